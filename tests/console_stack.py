"""The whole platform as processes for the console's browser tests: the five services (the
gateway serving the built console), the development AI server, private databases and folders."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from igny8.testing import ChildProcess, free_port

from stack import wait_http

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
CONSOLE_DIST = ROOT / "console" / "dist"
SERVICES = ("billing", "automation", "integration", "publishing", "gateway")


def wiring(ports: dict[str, int]) -> dict[str, str]:
    """The same wiring `make run` gives the services (scripts/run_stack.py)."""
    spec = importlib.util.spec_from_file_location("run_stack", ROOT / "scripts" / "run_stack.py")
    assert spec and spec.loader
    run_stack = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(run_stack)
    return dict(run_stack.service_environment({}, ports))


class Platform:
    def __init__(self, tmp: Path, bootstrap: str, dbs: dict[str, str]) -> None:
        self.tmp = tmp
        self.ports = {name: free_port() for name in ("ai", *SERVICES)}
        self.url = {name: f"http://127.0.0.1:{port}" for name, port in self.ports.items()}
        self.exports = tmp / "exports"
        common = {
            **wiring(self.ports),
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "INTEGRATION_STATIC_ROOT": str(self.exports),
            "PUBLISHING_STATIC_ROOT": str(self.exports),
            "AUTOMATION_OPENAI_BASE_URL": f"{self.url['ai']}/v1",
            "AUTOMATION_IMAGE_ROOT": str(tmp / "images"),
            "AUTOMATION_RUN_LOG_ROOT": str(tmp / "runs"),
            "GATEWAY_CONSOLE_DIR": str(CONSOLE_DIST),
            "GATEWAY_CONSOLE_DEV_SIGN_IN": "true",
        }
        for name in SERVICES:
            common[f"{name.upper()}_DATABASE_URL"] = dbs[name]
            common[f"{name.upper()}_CONSUMER_SESSION_TIMEOUT_MS"] = "6000"
        self.env = common
        self.processes: dict[str, ChildProcess] = {}

    def start(
        self, name: str, extra: dict[str, str] | None = None, program: str | None = None
    ) -> ChildProcess:
        """Start `program` (default: `name`) on the port recorded for `name`."""
        if name == "ai":
            args = [str(BIN / "igny8-dev-ai"), "--port", str(self.ports["ai"])]
        else:
            args = [str(BIN / (program or name)), "serve", "--port", str(self.ports[name])]
        process = ChildProcess(args, self.tmp / f"{name}.log", {**self.env, **(extra or {})})
        self.processes[name] = process
        return process

    async def start_all(self) -> None:
        for name in ("ai", *SERVICES):
            self.start(name)
        await wait_http(f"{self.url['ai']}/v1/models", self.processes["ai"], timeout=120)
        for name in SERVICES:
            await wait_http(f"{self.url[name]}/readyz", self.processes[name], timeout=120)

    def logs(self) -> str:
        return "\n".join(f"--- {n}\n{p.output()[-3000:]}" for n, p in self.processes.items())

    def stop(self) -> None:
        for process in self.processes.values():
            process.stop()
