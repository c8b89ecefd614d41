"""Every service runs as it does in Kubernetes: read-only root filesystem, topics owned elsewhere.

Each service is migrated (the migration Job) and then served (api and worker roles in one process)
inside a private mount namespace where `/` is remounted read-only and only `/tmp` and the
working directory's `var/` are writable tmpfs mounts — the two emptyDir volumes of the pods in
`deploy/`. Topic creation is off (`IGNY8_CREATE_TOPICS=false`), as there.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from contextlib import AsyncExitStack
from pathlib import Path

import pytest

from igny8.testing import ChildProcess, free_port, temporary_database

from stack import SERVICES, wait_ready

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[1]
# Fails loudly (exit 97) if the root filesystem is still writable: the test must not pass vacuously.
READ_ONLY = """
set -e
mount -o remount,bind,ro /
mount -t tmpfs -o size=64m tmpfs "$IGNY8_WRITABLE_VAR"
case "$IGNY8_WRITABLE_VAR" in
    # a checkout under /tmp (as CI's may be) would vanish under a tmpfs on /tmp: scratch goes
    # to a folder of the writable volume instead
    /tmp/*) mkdir "$IGNY8_WRITABLE_VAR/tmp"; export TMPDIR="$IGNY8_WRITABLE_VAR/tmp" ;;
    *) mount -t tmpfs -o size=64m tmpfs /tmp ;;
esac
if touch /.igny8-rw-probe 2>/dev/null || touch "$PWD/.igny8-rw-probe" 2>/dev/null; then
    echo "the root filesystem is writable"; exit 97
fi
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
    (ROOT / "var").mkdir(exist_ok=True)  # the mount point of the writable scratch volume
    async with AsyncExitStack() as stack:
        envs = {}
        for name in SERVICES:
            db = await stack.enter_async_context(temporary_database(postgres_admin_url, name))
            envs[name] = {
                f"{name.upper()}_DATABASE_URL": db,
                f"{name.upper()}_MIGRATE_ON_START": "false",
                "IGNY8_CREATE_TOPICS": "false",
                "IGNY8_WRITABLE_VAR": str(ROOT / "var"),
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
