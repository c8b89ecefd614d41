"""Private, Docker-free infrastructure for development and tests.

`python infra/local.py up|down|status` starts a single-node KRaft Kafka built from the Maven
Central jars (see infra/kafka/pom.xml) and a private PostgreSQL cluster from Debian's binaries,
with one role and one database per service, and writes their addresses to `.env.infra`.
Everything lives under the git-ignored `.infra/` (data, logs, pids) and `.cache/` (jars).
"""

from __future__ import annotations

import asyncio
import base64
import glob
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STATE = Path(os.environ.get("IGNY8_INFRA_DIR", ROOT / ".infra")).resolve()
CACHE = ROOT / ".cache"
KAFKA_LIBS = CACHE / "kafka" / "libs"
ENV_FILE = Path(os.environ.get("IGNY8_ENV_FILE", ROOT / ".env.infra"))
SERVICES = ("billing", "automation", "integration", "publishing", "gateway")

PORTS_FILE = STATE / "ports.json"
STACK_FILE = STATE / "stack.json"


def _recorded_ports() -> dict[str, int]:
    """The ports the infrastructure was last started with: `status` and `down` (and a later `up`)
    use them when the variables are not exported, so they look where it really runs."""
    try:
        return {k: int(v) for k, v in json.loads(PORTS_FILE.read_text()).items()}
    except (FileNotFoundError, ValueError, AttributeError):
        return {}


_RECORDED = _recorded_ports()
KAFKA_PORT = int(os.environ.get("IGNY8_KAFKA_PORT") or _RECORDED.get("kafka") or 19092)
KAFKA_CONTROLLER_PORT = int(
    os.environ.get("IGNY8_KAFKA_CONTROLLER_PORT")
    or (_RECORDED.get("kafka_controller") if "IGNY8_KAFKA_PORT" not in os.environ else None)
    or KAFKA_PORT + 1
)
PG_PORT = int(os.environ.get("IGNY8_PG_PORT") or _RECORDED.get("postgres") or 15432)


def log(msg: str) -> None:
    print(f"[infra] {msg}", flush=True)


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, check=True, **kw)


def pid_alive(pid_file: Path) -> int | None:
    try:
        pid = int(pid_file.read_text().strip())
        os.kill(pid, 0)
    except (FileNotFoundError, ValueError, ProcessLookupError, PermissionError):
        return None
    return pid


# ---------------------------------------------------------------- PostgreSQL


def pg_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_version_key)
    if not found:
        log("PostgreSQL binaries missing: installing Debian's postgresql package")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        run(["apt-get", "update", "-qq"], env=env)
        run(["apt-get", "install", "-y", "-qq", "postgresql"], env=env)
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_version_key)
    return Path(found[-1]).parent


def _version_key(path: str) -> int:
    return int(Path(path).parent.parent.name)


def as_postgres(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


def pg_paths() -> dict[str, Path]:
    base = STATE / "pg"
    return {
        "base": base,
        "data": base / "data",
        "run": base / "run",
        "log": STATE / "logs" / "postgres.log",
        "secrets": base / "secrets.json",
    }


def pg_secrets() -> dict[str, str]:
    p = pg_paths()["secrets"]
    if p.exists():
        return json.loads(p.read_text())
    creds = {name: secrets.token_urlsafe(18) for name in ("postgres", *SERVICES)}
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(creds))
    p.chmod(0o600)
    return creds


def pg_up() -> None:
    paths = pg_paths()
    bindir = pg_bin()
    creds = pg_secrets()
    for d in (paths["base"], paths["run"], paths["log"].parent):
        d.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        # The cluster runs as `postgres`; it must reach its folders through the checkout.
        for parent in [*reversed(paths["base"].parents)]:
            if str(parent).startswith(str(ROOT.parent)) and parent != Path("/"):
                mode = parent.stat().st_mode
                if not mode & 0o001:
                    parent.chmod(mode | 0o001)
        shutil.chown(paths["base"], "postgres", "postgres")
        shutil.chown(paths["run"], "postgres", "postgres")
        paths["log"].touch(exist_ok=True)
        shutil.chown(paths["log"], "postgres", "postgres")
    if not (paths["data"] / "PG_VERSION").exists():
        log(f"initdb {paths['data']}")
        pwfile = paths["base"] / "pwfile"
        pwfile.write_text(creds["postgres"] + "\n")
        if os.geteuid() == 0:
            shutil.chown(pwfile, "postgres", "postgres")
        run(
            as_postgres(
                [
                    str(bindir / "initdb"),
                    "-D",
                    str(paths["data"]),
                    "-U",
                    "postgres",
                    "--pwfile",
                    str(pwfile),
                    "--auth-local=trust",
                    "--auth-host=scram-sha-256",
                    "-E",
                    "UTF8",
                    "--locale=C.UTF-8",
                ]
            ),
            stdout=subprocess.DEVNULL,
        )
        pwfile.unlink()
    status = subprocess.run(
        as_postgres([str(bindir / "pg_ctl"), "-D", str(paths["data"]), "status"]),
        capture_output=True,
    )
    if status.returncode != 0:
        # fsync off: a throwaway development cluster trades durability for speed.
        opts = (
            f"-p {PG_PORT} -k {paths['run']} -c listen_addresses=127.0.0.1 -c max_connections=400 "
            "-c fsync=off -c full_page_writes=off -c shared_buffers=256MB"
        )
        run(
            as_postgres(
                [
                    str(bindir / "pg_ctl"),
                    "-D",
                    str(paths["data"]),
                    "-l",
                    str(paths["log"]),
                    "-o",
                    opts,
                    "-w",
                    "-t",
                    "60",
                    "start",
                ]
            ),
            stdout=subprocess.DEVNULL,
        )
        log(f"PostgreSQL started on 127.0.0.1:{PG_PORT}")
    else:
        log(f"PostgreSQL already running on 127.0.0.1:{PG_PORT}")
    for svc in SERVICES:
        sql = (
            f"DO $$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname='{svc}') THEN "
            f"CREATE ROLE {svc} LOGIN PASSWORD '{creds[svc]}'; END IF; END$$;"
        )
        psql(sql)
        exists = psql(f"SELECT 1 FROM pg_database WHERE datname='{svc}'", capture=True).strip()
        if not exists:
            psql(f"CREATE DATABASE {svc} OWNER {svc}")
    psql("ALTER ROLE postgres PASSWORD '" + creds["postgres"] + "'")


def psql(sql: str, capture: bool = False) -> str:
    paths = pg_paths()
    cmd = as_postgres(
        [
            str(pg_bin() / "psql"),
            "-h",
            str(paths["run"]),
            "-p",
            str(PG_PORT),
            "-U",
            "postgres",
            "-d",
            "postgres",
            "-v",
            "ON_ERROR_STOP=1",
            "-qAtc",
            sql,
        ]
    )
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return out.stdout if capture else ""


def pg_down() -> None:
    paths = pg_paths()
    if not (paths["data"] / "PG_VERSION").exists():
        return
    subprocess.run(
        as_postgres(
            [str(pg_bin() / "pg_ctl"), "-D", str(paths["data"]), "-m", "fast", "-w", "stop"]
        ),
        capture_output=True,
    )
    log("PostgreSQL stopped")


def pg_running() -> bool:
    paths = pg_paths()
    if not (paths["data"] / "PG_VERSION").exists():
        return False
    return (
        subprocess.run(
            as_postgres([str(pg_bin() / "pg_ctl"), "-D", str(paths["data"]), "status"]),
            capture_output=True,
        ).returncode
        == 0
    )


# ---------------------------------------------------------------- Kafka


def kafka_paths() -> dict[str, Path]:
    base = STATE / "kafka"
    return {
        "base": base,
        "data": base / "data",
        "props": base / "server.properties",
        "log4j": base / "log4j2.properties",
        "pid": base / "kafka.pid",
        "logs": STATE / "logs",
        "cluster_id": base / "cluster.id",
    }


def kafka_jars() -> None:
    if KAFKA_LIBS.exists() and any(KAFKA_LIBS.glob("kafka_2.13-*.jar")):
        return
    log("fetching the Kafka broker jars from Maven Central (once)")
    run(["mvn", "-q", "-B", "-f", str(ROOT / "infra" / "kafka" / "pom.xml"), "package"])


def java_cmd(main: str, *args: str) -> list[str]:
    p = kafka_paths()
    return [
        "java",
        "-Xms256m",
        "-Xmx512m",
        "-XX:+UseSerialGC",
        "-XX:TieredStopAtLevel=1",
        "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={p['log4j']}",
        f"-Dkafka.logs.dir={p['logs']}",
        "-cp",
        f"{KAFKA_LIBS}/*",
        main,
        *args,
    ]


def kafka_config() -> None:
    p = kafka_paths()
    p["base"].mkdir(parents=True, exist_ok=True)
    p["logs"].mkdir(parents=True, exist_ok=True)
    settings = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@127.0.0.1:{KAFKA_CONTROLLER_PORT}",
        "listeners": f"PLAINTEXT://127.0.0.1:{KAFKA_PORT},CONTROLLER://127.0.0.1:{KAFKA_CONTROLLER_PORT}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{KAFKA_PORT}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "log.dirs": str(p["data"]),
        "auto.create.topics.enable": "false",
        "num.partitions": "3",
        "offsets.topic.replication.factor": "1",
        "offsets.topic.num.partitions": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        "group.initial.rebalance.delay.ms": "0",
        "num.network.threads": "2",
        "num.io.threads": "2",
        "log.flush.interval.ms": "60000",
    }
    p["props"].write_text("".join(f"{k}={v}\n" for k, v in settings.items()))
    p["log4j"].write_text(
        "status = warn\n"
        "appender.file.type = File\n"
        "appender.file.name = FILE\n"
        f"appender.file.fileName = {p['logs']}/kafka.log\n"
        "appender.file.layout.type = PatternLayout\n"
        "appender.file.layout.pattern = [%d] %p %m (%c)%n\n"
        "rootLogger.level = INFO\n"
        "rootLogger.appenderRef.file.ref = FILE\n"
        "logger.kafka.name = kafka\nlogger.kafka.level = INFO\n"
        "logger.state.name = state.change.logger\nlogger.state.level = WARN\n"
    )


def kafka_up() -> None:
    p = kafka_paths()
    if pid_alive(p["pid"]):
        log(f"Kafka already running on 127.0.0.1:{KAFKA_PORT}")
        wait_kafka_ready()
        return
    kafka_jars()
    kafka_config()
    if not p["cluster_id"].exists():
        cid = base64.urlsafe_b64encode(secrets.token_bytes(16)).decode().rstrip("=")
        while cid.startswith("-"):
            cid = base64.urlsafe_b64encode(secrets.token_bytes(16)).decode().rstrip("=")
        p["cluster_id"].write_text(cid)
    cid = p["cluster_id"].read_text().strip()
    run(
        java_cmd(
            "kafka.tools.StorageTool",
            "format",
            "-t",
            cid,
            "-c",
            str(p["props"]),
            "--ignore-formatted",
        ),
        stdout=subprocess.DEVNULL,
    )
    out = open(p["logs"] / "kafka.stdout", "ab")  # noqa: SIM115 - handed to the broker process
    proc = subprocess.Popen(
        java_cmd("kafka.Kafka", str(p["props"])),
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    p["pid"].write_text(str(proc.pid))
    log(f"Kafka starting (pid {proc.pid}) on 127.0.0.1:{KAFKA_PORT}")
    wait_kafka_ready(proc)


def wait_kafka_ready(proc: subprocess.Popen | None = None, timeout: float = 90.0) -> None:
    """Ready means the admin client answers a metadata request, not merely an open port."""
    import logging

    from aiokafka.admin import AIOKafkaAdminClient

    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)

    async def probe() -> bool:
        admin = AIOKafkaAdminClient(
            bootstrap_servers=f"127.0.0.1:{KAFKA_PORT}", request_timeout_ms=3000
        )
        try:
            await admin.start()
            await admin.describe_cluster()
            return True
        except Exception:
            return False
        finally:
            await admin.close()

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            sys.exit(f"Kafka exited with {proc.returncode}; see {kafka_paths()['logs']}/kafka.log")
        if asyncio.run(probe()):
            log("Kafka ready (admin client answered)")
            return
        time.sleep(0.5)
    sys.exit("Kafka did not become ready in time; see .infra/logs/kafka.log")


def kafka_down() -> None:
    p = kafka_paths()
    pid = pid_alive(p["pid"])
    if not pid:
        return
    os.kill(pid, signal.SIGTERM)
    for _ in range(300):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        os.kill(pid, signal.SIGKILL)
    p["pid"].unlink(missing_ok=True)
    log("Kafka stopped")


# ---------------------------------------------------------------- commands


def service_key_lines() -> list[str]:
    """A development Ed25519 key pair per service under .infra/keys/ (kept across runs): each
    service's private key as `<SERVICE>_SERVICE_PRIVATE_KEY`, every public key in
    `IGNY8_SERVICE_PUBLIC_KEYS` (see igny8.service_keys)."""
    from igny8.service_keys import format_public_keys, new_private_key, private_key_variable

    folder = STATE / "keys"
    folder.mkdir(mode=0o700, exist_ok=True)
    private = {}
    for svc in SERVICES:
        key_file = folder / f"{svc}.key"
        if not key_file.exists():
            key_file.write_text(new_private_key() + "\n")
            key_file.chmod(0o600)
        private[svc] = key_file.read_text().strip()
    lines = [f"{private_key_variable(svc)}={key}" for svc, key in private.items()]
    lines.append(f"IGNY8_SERVICE_PUBLIC_KEYS={format_public_keys(private)}")
    return lines


def write_env() -> None:
    creds = pg_secrets()
    lines = [
        f"IGNY8_KAFKA_PORT={KAFKA_PORT}",
        f"IGNY8_PG_PORT={PG_PORT}",
        f"KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:{KAFKA_PORT}",
        f"IGNY8_POSTGRES_ADMIN_URL=postgresql+asyncpg://postgres:{creds['postgres']}@127.0.0.1:{PG_PORT}/postgres",
    ]
    for svc in SERVICES:
        lines.append(
            f"{svc.upper()}_DATABASE_URL=postgresql+asyncpg://{svc}:{creds[svc]}@127.0.0.1:{PG_PORT}/{svc}"
        )
    lines.extend(service_key_lines())
    ring_file = STATE / "credential.keys"
    if not ring_file.exists():  # a development key ring for integration's credential encryption
        key = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")
        ring_file.write_text(f"dev1:{key}")
        ring_file.chmod(0o600)
    lines.append(f"INTEGRATION_CREDENTIAL_KEYS={ring_file.read_text().strip()}")
    ENV_FILE.write_text("\n".join(lines) + "\n")
    ENV_FILE.chmod(0o600)


def up() -> None:
    STATE.mkdir(exist_ok=True)
    PORTS_FILE.write_text(
        json.dumps(
            {"kafka": KAFKA_PORT, "kafka_controller": KAFKA_CONTROLLER_PORT, "postgres": PG_PORT}
        )
    )
    pg_up()
    kafka_up()
    write_env()
    status()


def down() -> None:
    kafka_down()
    pg_down()


def status() -> None:
    kafka = pid_alive(kafka_paths()["pid"])
    print(
        f"kafka      {'running pid ' + str(kafka) if kafka else 'stopped'}  127.0.0.1:{KAFKA_PORT}"
    )
    print(
        f"postgres   {'running' if pg_running() else 'stopped'}  127.0.0.1:{PG_PORT}  "
        f"databases: {', '.join(SERVICES)}"
    )
    print(f"env file   {ENV_FILE if ENV_FILE.exists() else '(not written yet)'}")
    print(f"logs       {STATE / 'logs'}")
    try:
        stack = json.loads(STACK_FILE.read_text())
        os.kill(int(stack["pid"]), 0)
    except (FileNotFoundError, ValueError, KeyError, ProcessLookupError, PermissionError):
        return
    for name, port in stack["ports"].items():
        print(f"{name:<10} running  http://127.0.0.1:{port}  (make run)")


COMMANDS = {
    "up": up,
    "down": down,
    "status": status,
    "kafka-up": kafka_up,
    "kafka-down": kafka_down,
    "pg-up": pg_up,
    "pg-down": pg_down,
}

if __name__ == "__main__":
    name = sys.argv[1] if len(sys.argv) > 1 else "status"
    if name not in COMMANDS:
        sys.exit(f"usage: local.py {{{'|'.join(COMMANDS)}}}")
    COMMANDS[name]()
