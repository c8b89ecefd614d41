"""`make run`: start every service as its own process, say where each listens, serve till Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
LOGS = ROOT / ".infra" / "logs"
SERVICES = {
    "gateway": 8100,
    "billing": 8101,
    "automation": 8102,
    "integration": 8103,
    "publishing": 8104,
}


def ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as answer:
            return answer.status == 200
    except OSError:
        return False


def main() -> int:
    LOGS.mkdir(parents=True, exist_ok=True)
    children: dict[str, subprocess.Popen[bytes]] = {}
    ports = {
        name: int(os.environ.get(f"{name.upper()}_HTTP_PORT", port))
        for name, port in SERVICES.items()
    }
    for name, port in ports.items():
        log = open(LOGS / f"{name}.log", "ab")  # noqa: SIM115 - lives as long as the child
        children[name] = subprocess.Popen(
            [str(BIN / name), "serve", "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    deadline = time.monotonic() + 90
    pending = set(ports)
    while pending and time.monotonic() < deadline:
        for name in list(pending):
            if children[name].poll() is not None:
                print(
                    f"{name} exited with {children[name].returncode}; see {LOGS / (name + '.log')}"
                )
                stop(children)
                return 1
            if ready(ports[name]):
                pending.discard(name)
        time.sleep(0.3)
    if pending:
        print(f"not ready in time: {', '.join(sorted(pending))}; see {LOGS}")
        stop(children)
        return 1
    print("\nIGNY8 is up:")
    print(f"  {'kafka':<12} {os.environ.get('KAFKA_BOOTSTRAP_SERVERS')}")
    for name, port in ports.items():
        print(
            f"  {name:<12} http://127.0.0.1:{port}  (docs /docs, probes /healthz /readyz, /metrics)"
        )
    print(f"  {'logs':<12} {LOGS}")
    print("Ctrl-C stops the services (`make infra-down` stops Kafka and PostgreSQL).", flush=True)
    interrupted = False

    def on_signal(*_: object) -> None:
        nonlocal interrupted
        interrupted = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    while not interrupted:
        for name, child in children.items():
            if child.poll() is not None:
                print(f"{name} exited with {child.returncode}; see {LOGS / (name + '.log')}")
                interrupted = True
        time.sleep(0.5)
    stop(children)
    return 0


def stop(children: dict[str, subprocess.Popen[bytes]]) -> None:
    for child in children.values():
        if child.poll() is None:
            child.terminate()
    for child in children.values():
        try:
            child.wait(15)
        except subprocess.TimeoutExpired:
            child.kill()


if __name__ == "__main__":
    sys.exit(main())
