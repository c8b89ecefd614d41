"""Every service runs as it does in Kubernetes: read-only root filesystem, topics owned elsewhere.

Each service is migrated (the migration Job) and then served (api and worker roles in one process)
inside a private mount namespace where `/` is remounted read-only, the working directory and its
`var/` included. Writable are only what the pods in `deploy/` mount: `/tmp` (a tmpfs, the emptyDir)
and, for integration and publishing, one exports folder that both processes share (the
ReadWriteMany claim). Run logs live in the database and images in object storage, so no service
needs more. Topic creation is off (`IGNY8_CREATE_TOPICS=false`), as there.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import tempfile
import uuid
from contextlib import AsyncExitStack
from pathlib import Path

import httpx
import pytest

from igny8.auth import auth_headers
from igny8.testing import ChildProcess, free_port, temporary_database

from stack import SERVICES, wait_ready

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[1]
# Fails loudly (exit 97) if the root filesystem is still writable: the test must not pass vacuously.
READ_ONLY = """
set -e
# the shared exports folder becomes a mount of its own first, so it stays writable below a read-only /
mount --bind "$IGNY8_EXPORTS" "$IGNY8_EXPORTS"
mount -o remount,bind,ro /
case "$IGNY8_EXPORTS" in
    # a checkout under /tmp (as CI's may be) would vanish under a tmpfs on /tmp: scratch goes
    # to a tmpfs of its own instead
    /tmp/*) mount -t tmpfs -o size=64m tmpfs "$IGNY8_SCRATCH"; export TMPDIR="$IGNY8_SCRATCH" ;;
    *) mount -t tmpfs -o size=64m tmpfs /tmp ;;
esac
for probe in /.igny8-rw-probe "$PWD/.igny8-rw-probe" "$PWD/var/.igny8-rw-probe"; do
    if touch "$probe" 2>/dev/null; then echo "the root filesystem is writable ($probe)"; exit 97; fi
done
exec "$@"
"""


def read_only(args: list[str]) -> list[str]:
    unshare = shutil.which("unshare")
    if unshare is None:
        pytest.fail("unshare (util-linux) is needed to remount / read-only in a mount namespace")
    return [unshare, "--mount", "--propagation", "private", "sh", "-c", READ_ONLY, "sh", *args]


async def migrate(name: str, env: dict[str, str]) -> None:
    process = await asyncio.create_subprocess_exec(
        *read_only([str(Path(sys.executable).parent / name), "migrate"]),
        env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), 180)
    assert process.returncode == 0, f"{name} migrate:\n{output.decode(errors='replace')}"


async def test_every_service_migrates_and_serves_on_a_read_only_root_with_topic_creation_off(
    postgres_admin_url, tmp_path
):
    # below the checkout (a tmpfs on /tmp would hide tmp_path): the shared exports folder, and the
    # mount point of the scratch tmpfs used when the checkout itself is under /tmp
    (ROOT / "var").mkdir(exist_ok=True)
    shared = Path(tempfile.mkdtemp(prefix="read-only-root-", dir=ROOT / "var"))
    exports, scratch = shared / "exports", shared / "scratch"
    exports.mkdir()
    scratch.mkdir()
    async with AsyncExitStack() as stack:
        stack.callback(shutil.rmtree, shared, ignore_errors=True)
        envs = {}
        for name in SERVICES:
            db = await stack.enter_async_context(temporary_database(postgres_admin_url, name))
            envs[name] = {
                f"{name.upper()}_DATABASE_URL": db,
                f"{name.upper()}_MIGRATE_ON_START": "false",
                "IGNY8_CREATE_TOPICS": "false",
                "IGNY8_EXPORTS": str(exports),
                "IGNY8_SCRATCH": str(scratch),
                "INTEGRATION_STATIC_ROOT": str(exports),
                "PUBLISHING_STATIC_ROOT": str(exports),
                "PYTHONDONTWRITEBYTECODE": "1",
            }
        # The migration Jobs, then the services (each service's own database, as in deploy/).
        await asyncio.gather(*(migrate(name, env) for name, env in envs.items()))
        running = []
        for name, env in envs.items():
            port = str(free_port())
            child = ChildProcess(
                read_only(
                    [
                        str(Path(sys.executable).parent / name),
                        "serve",
                        "--role",
                        "all",
                        "--port",
                        port,
                    ]
                ),
                tmp_path / f"{name}.log",
                env={**env, f"{name.upper()}_HTTP_PORT": port},
            )
            stack.callback(child.stop)
            running.append((name, child, f"http://127.0.0.1:{port}"))
        for name, child, base in running:
            ready = await wait_ready(base, child)
            assert ready["ready"] is True, name
            output = child.output()
            assert "Read-only file system" not in output, f"{name}:\n{output[-3000:]}"
            assert "writable" not in output, name
        await a_static_integration_writes_to_the_shared_exports(
            dict(running_urls(running)), exports
        )


def running_urls(running: list[tuple[str, ChildProcess, str]]) -> list[tuple[str, str]]:
    return [(name, base) for name, _, base in running]


async def a_static_integration_writes_to_the_shared_exports(urls: dict[str, str], exports: Path):
    """Integration's connection test writes a probe into the account's folder of the exports
    volume: the one folder a pod may write besides /tmp (and another service's pods share it)."""
    account = uuid.uuid4()
    (exports / str(account) / "garden").mkdir(parents=True)
    headers = auth_headers(None, "gateway", "integration", account)
    async with httpx.AsyncClient(base_url=urls["integration"], headers=headers) as client:
        site = await client.post(
            "/sites",
            json={"name": "Garden", "url": "https://garden.example/", "sector": "home"},
        )
        assert site.status_code == 201, site.text
        created = await client.post(
            f"/sites/{site.json()['site_id']}/integrations",
            json={
                "platform": "static",
                "base_url": "https://garden.example",
                "settings": {"folder": "garden"},
            },
        )
        assert created.status_code == 201, created.text
        tested = await client.post(f"/integrations/{created.json()['integration_id']}/test")
        assert tested.json()["success"] is True, tested.text
