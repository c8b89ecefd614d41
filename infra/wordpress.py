"""A real, private WordPress for tests and demos — no Docker, nothing shared.

Debian's `wordpress`, `mariadb-server`, `php-cli` and `php-mysql` packages (installed here when
missing) served as:
- MariaDB as a private instance: its own data directory, socket and port under the state folder,
  started with `mariadbd --no-defaults` and stopped at teardown (the system's service is never
  used or touched);
- PHP's built-in server on a loopback address of its own (127.0.0.2, .3, …), several workers, with
  a router that serves uploads from the instance's own content folder and hands every other
  non-file path to `index.php`;
- a config file `/etc/wordpress/config-igny8-<name>.php` selected by the router through
  `WORDPRESS_CONFIG` (Debian's wp-config.php otherwise picks the file by host name, and two
  instances on one address would share it), with `WP_ENVIRONMENT_TYPE=local` so application
  passwords work over plain http;
- a scripted install (`/wp-admin/install.php?step=2`) and an application password created from PHP.

    python infra/wordpress.py up [--name demo] [--address 127.0.0.2] [--port 8080]
    python infra/wordpress.py down [--name demo]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WP_ROOT = Path("/usr/share/wordpress")
PACKAGES = ("wordpress", "mariadb-server", "php-cli", "php-mysql")
ROUTER = r"""<?php
// igny8 test router: the instance's uploads from its own content folder, files as they are,
// everything else to WordPress.
$_SERVER['WORDPRESS_CONFIG'] = getenv('WORDPRESS_CONFIG');
$path = parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH);
$content = getenv('IGNY8_WP_CONTENT');
if (strpos($path, '/wp-content/') === 0) {
    $file = realpath($content . substr($path, strlen('/wp-content')));
    if ($file !== false && strpos($file, realpath($content)) === 0 && is_file($file)) {
        header('Content-Type: ' . (mime_content_type($file) ?: 'application/octet-stream'));
        readfile($file);
        return true;
    }
}
$root = $_SERVER['DOCUMENT_ROOT'];
if ($path !== '/' && file_exists($root . $path) && !is_dir($root . $path)) {
    return false;
}
if (is_dir($root . $path) && file_exists($root . rtrim($path, '/') . '/index.php')) {
    $_SERVER['SCRIPT_NAME'] = rtrim($path, '/') . '/index.php';
    require $root . rtrim($path, '/') . '/index.php';
    return true;
}
$_SERVER['SCRIPT_NAME'] = '/index.php';
require $root . '/index.php';
"""
CREATE_APP_PASSWORD_PHP = r"""
$_SERVER['WORDPRESS_CONFIG'] = getenv('WORDPRESS_CONFIG');
$_SERVER['HTTP_HOST'] = getenv('IGNY8_WP_HOST');
define('WP_USE_THEMES', false);
require '/usr/share/wordpress/wp-load.php';
$user = get_user_by('login', getenv('IGNY8_WP_USER'));
list($password, $item) = WP_Application_Passwords::create_new_application_password(
    $user->ID, array('name' => 'igny8-' . time())
);
echo json_encode(array('user_id' => $user->ID, 'password' => $password));
"""  # noqa: S105 - PHP source, it holds no secret


def log(message: str) -> None:
    print(f"[wordpress] {message}", flush=True)


def ensure_packages() -> None:
    """Install Debian's packages when any is missing (as root, like infra/local.py does)."""
    have = (
        (WP_ROOT / "wp-load.php").exists()
        and shutil.which("php")
        and shutil.which("mariadbd", path="/usr/sbin:/usr/bin")
        and Path("/usr/bin/mariadb-install-db").exists()
        and _php_has_mysqli()
    )
    if have:
        return
    log("installing " + " ".join(PACKAGES))
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *PACKAGES],
        check=True,
        env=env,
    )


def _php_has_mysqli() -> bool:
    if not shutil.which("php"):
        return False
    found = subprocess.run(["php", "-m"], capture_output=True, text=True, check=False)
    return "mysqli" in found.stdout


def free_port(address: str) -> int:
    with socket.socket() as s:
        s.bind((address, 0))
        return int(s.getsockname()[1])


def free_loopback() -> str:
    """A loopback address of its own: 127.0.0.2, .3, … whose port 80 range is unused by us."""
    for last in range(2, 250):
        address = f"127.0.0.{last}"
        if not Path(f"/etc/wordpress/config-igny8-{address.replace('.', '-')}.php").exists():
            return address
    raise RuntimeError("no free loopback address for WordPress")


@dataclass
class WordPress:
    """A running instance: where it answers and how to log in."""

    url: str
    address: str
    port: int
    admin_user: str
    admin_password: str
    app_password: str
    state: Path
    name: str

    @property
    def credentials(self) -> dict[str, str]:
        return {"username": self.admin_user, "application_password": self.app_password}

    def to_json(self) -> str:
        return json.dumps({k: str(v) for k, v in self.__dict__.items()})


class LocalWordPress:
    def __init__(self, state: Path, name: str | None = None, address: str | None = None) -> None:
        self.address = address or free_loopback()
        self.name = name or self.address.replace(".", "-")
        self.state = state.resolve() / self.name
        self.config = Path(f"/etc/wordpress/config-igny8-{self.name}.php")
        self._mariadb: subprocess.Popen[bytes] | None = None
        self._php: subprocess.Popen[bytes] | None = None

    # -- MariaDB ---------------------------------------------------------------------------
    @property
    def socket_path(self) -> Path:
        return self.state / "mariadb.sock"

    def _start_mariadb(self) -> None:
        data = self.state / "mariadb"
        if not (data / "mysql").exists():
            data.mkdir(parents=True, exist_ok=True)
            subprocess.run(
                [
                    "mariadb-install-db",
                    "--no-defaults",
                    f"--datadir={data}",
                    "--user=root",
                    "--auth-root-authentication-method=socket",
                    "--skip-test-db",
                ],
                check=True,
                capture_output=True,
            )
        port = free_port("127.0.0.1")
        self._mariadb = subprocess.Popen(
            [
                "/usr/sbin/mariadbd",
                "--no-defaults",
                f"--datadir={data}",
                f"--socket={self.socket_path}",
                f"--port={port}",
                "--bind-address=127.0.0.1",
                "--user=root",
                f"--pid-file={self.state / 'mariadb.pid'}",
                f"--log-error={self.state / 'mariadb.log'}",
                "--innodb-buffer-pool-size=32M",
                "--innodb-flush-log-at-trx-commit=0",
                "--skip-log-bin",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self._mariadb.poll() is not None:
                raise RuntimeError(f"mariadbd exited: {self._tail('mariadb.log')}")
            ok = subprocess.run(
                ["mariadb", f"--socket={self.socket_path}", "-uroot", "-e", "SELECT 1"],
                capture_output=True,
                check=False,
            )
            if ok.returncode == 0:
                return
            time.sleep(0.2)
        raise RuntimeError(f"mariadbd did not answer: {self._tail('mariadb.log')}")

    def _sql(self, statement: str) -> None:
        subprocess.run(
            ["mariadb", f"--socket={self.socket_path}", "-uroot", "-e", statement],
            check=True,
            capture_output=True,
        )

    def _tail(self, name: str) -> str:
        path = self.state / name
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""

    # -- WordPress -------------------------------------------------------------------------
    def up(self) -> WordPress:
        ensure_packages()
        self.state.mkdir(parents=True, exist_ok=True)
        self._start_mariadb()
        db_password = secrets.token_hex(12)
        self._sql(
            "CREATE DATABASE IF NOT EXISTS wordpress; "
            f"CREATE OR REPLACE USER 'wp'@'localhost' IDENTIFIED BY '{db_password}'; "
            "GRANT ALL ON wordpress.* TO 'wp'@'localhost';"
        )
        content = self.state / "wp-content"
        (content / "uploads").mkdir(parents=True, exist_ok=True)
        port = free_port(self.address)
        url = f"http://{self.address}:{port}"
        self.config.parent.mkdir(parents=True, exist_ok=True)
        self.config.write_text(
            "<?php\n"
            "define('DB_NAME', 'wordpress');\n"
            "define('DB_USER', 'wp');\n"
            f"define('DB_PASSWORD', '{db_password}');\n"
            f"define('DB_HOST', 'localhost:{self.socket_path}');\n"
            f"define('WP_CONTENT_DIR', '{content}');\n"
            f"define('WP_CONTENT_URL', '{url}/wp-content');\n"
            f"define('WP_HOME', '{url}');\n"
            f"define('WP_SITEURL', '{url}');\n"
            "define('WP_ENVIRONMENT_TYPE', 'local');\n"
            "define('DISABLE_WP_CRON', true);\n"
            "define('AUTOMATIC_UPDATER_DISABLED', true);\n"
            f"define('AUTH_KEY', '{secrets.token_hex(16)}');\n"
            f"define('SECURE_AUTH_KEY', '{secrets.token_hex(16)}');\n"
            f"define('LOGGED_IN_KEY', '{secrets.token_hex(16)}');\n"
            f"define('NONCE_KEY', '{secrets.token_hex(16)}');\n"
        )
        router = self.state / "router.php"
        router.write_text(ROUTER)
        env = {
            **os.environ,
            "WORDPRESS_CONFIG": f"igny8-{self.name}",
            "IGNY8_WP_CONTENT": str(content),
            "WP_ENVIRONMENT_TYPE": "local",
            "PHP_CLI_SERVER_WORKERS": "4",
        }
        self._php = subprocess.Popen(
            [
                "php",
                "-d",
                "upload_max_filesize=32M",
                "-d",
                "post_max_size=32M",
                "-S",
                f"{self.address}:{port}",
                "-t",
                str(WP_ROOT),
                str(router),
            ],
            env=env,
            stdout=open(self.state / "php.log", "ab"),  # noqa: SIM115 - lives with the server
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        (self.state / "php.pid").write_text(str(self._php.pid))
        self._wait_http(url)
        admin_password = secrets.token_urlsafe(12)
        self._install(url, admin_password)
        app = self._app_password(env, port)
        wp = WordPress(url, self.address, port, "admin", admin_password, app, self.state, self.name)
        (self.state / "wordpress.json").write_text(wp.to_json())
        log(f"WordPress ready at {url} (user admin)")
        return wp

    def _wait_http(self, url: str) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"{url}/wp-admin/install.php", timeout=5).read()  # noqa: S310
                return
            except OSError:
                if self._php is not None and self._php.poll() is not None:
                    raise RuntimeError(f"php exited: {self._tail('php.log')}") from None
                time.sleep(0.2)
        raise RuntimeError(f"WordPress did not answer: {self._tail('php.log')}")

    def _install(self, url: str, password: str) -> None:
        form = urllib.parse.urlencode(
            {
                "weblog_title": "IGNY8 test site",
                "user_name": "admin",
                "admin_password": password,
                "admin_password2": password,
                "pw_weak": "1",
                "admin_email": "admin@example.com",
                "blog_public": "0",
            }
        ).encode()
        request = urllib.request.Request(  # noqa: S310 - loopback only
            f"{url}/wp-admin/install.php?step=2", data=form, method="POST"
        )
        body = urllib.request.urlopen(request, timeout=60).read().decode(errors="replace")  # noqa: S310
        if "Success" not in body and "already installed" not in body:
            raise RuntimeError(f"WordPress install failed: {body[-1500:]}")

    def _app_password(self, env: dict[str, str], port: int) -> str:
        found = subprocess.run(
            ["php", "-r", CREATE_APP_PASSWORD_PHP],
            env={**env, "IGNY8_WP_HOST": f"{self.address}:{port}", "IGNY8_WP_USER": "admin"},
            capture_output=True,
            text=True,
            check=True,
        )
        return str(json.loads(found.stdout.strip().splitlines()[-1])["password"])

    def down(self) -> None:
        """Stop PHP (its whole process group: the server forks workers) and MariaDB."""
        for process in (self._php, self._mariadb):
            if process is not None and process.poll() is None:
                _stop_group(process.pid)
                try:
                    process.wait(20)
                except subprocess.TimeoutExpired:
                    _stop_group(process.pid, signal.SIGKILL)
                    process.wait(5)
        if self._php is None:  # `down` from another process: use the pid files
            for pid_file in (self.state / "php.pid", self.state / "mariadb.pid"):
                with contextlib.suppress(FileNotFoundError, ValueError):
                    _stop_group(int(pid_file.read_text().strip()))
        self.config.unlink(missing_ok=True)


def _stop_group(pid: int, sig: signal.Signals = signal.SIGTERM) -> None:
    """Each server was started in a session of its own, so its process group is its pid."""
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="infra/wordpress.py")
    parser.add_argument("command", choices=["up", "down"])
    parser.add_argument("--name", default="demo")
    parser.add_argument("--address", default=None)
    parser.add_argument("--state", default=str(ROOT / ".infra" / "wordpress"))
    args = parser.parse_args(argv)
    wordpress = LocalWordPress(Path(args.state), args.name, args.address)
    if args.command == "up":
        print(wordpress.up().to_json())
        return 0
    wordpress.down()
    return 0


if __name__ == "__main__":
    sys.exit(main())
