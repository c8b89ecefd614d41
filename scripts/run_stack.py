"""`make run` / `make demo`: start every service as its own process (and the development AI server
when no AI provider is configured), say where each listens, optionally run the demo, then serve
until Ctrl-C."""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
LOGS = ROOT / ".infra" / "logs"
DEV_SECRET = "igny8-local-development-secret-not-for-production"  # noqa: S105 (local only)
"""Signs development user tokens in a local stack only (`gateway dev-token`)."""
STACK_FILE = ROOT / ".infra" / "stack.json"
"""Where the running stack's ports are recorded, for `make infra-status`."""
SERVICES = {
    "gateway": 8100,
    "billing": 8101,
    "automation": 8102,
    "integration": 8103,
    "publishing": 8104,
}
STRIPE_MOCK = ROOT / ".cache" / "go" / "bin" / "stripe-mock"  # built by `make tools`
AI_VARIABLES = (
    "AUTOMATION_OPENAI_API_KEY",
    "AUTOMATION_OPENAI_BASE_URL",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
)


def ready(port: int, path: str = "/readyz") -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as answer:
            return bool(answer.status == 200)
    except OSError:
        return False


def port_taken(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def service_environment(env: dict[str, str], ports: dict[str, int]) -> dict[str, str]:
    """What one service needs to find another follows the ports chosen for this run, unless the
    caller set it explicitly: automation calls billing for quotes and hands out image URLs."""
    # publishing writes the demo's articles into a static export folder below the same root
    # integration checks
    exports = env.get("INTEGRATION_STATIC_ROOT", str(ROOT / "var" / "exports"))
    wired = {
        "AUTOMATION_BILLING_URL": f"http://127.0.0.1:{ports['billing']}",
        "AUTOMATION_PUBLIC_URL": f"http://127.0.0.1:{ports['automation']}",
        "INTEGRATION_STATIC_ROOT": exports,
        "PUBLISHING_STATIC_ROOT": exports,
        "PUBLISHING_AUTOMATION_URL": f"http://127.0.0.1:{ports['automation']}",
        "PUBLISHING_INTEGRATION_URL": f"http://127.0.0.1:{ports['integration']}",
        # the gateway is the front door: it finds every service, and signs development user
        # tokens (`gateway dev-token`) with a local secret
        **{
            f"GATEWAY_{name.upper()}_URL": f"http://127.0.0.1:{ports[name]}"
            for name in ("billing", "automation", "integration", "publishing")
        },
        "GATEWAY_JWT_DEV_SECRET": DEV_SECRET,
        # the console (served by the gateway at `/`) offers development identities
        "GATEWAY_CONSOLE_DEV_SIGN_IN": "true",
    }
    return {**wired, **env}


def console_line(gateway_port: int) -> str:
    """Where the console is, said last so it is the line seen when the demo has run."""
    if not (ROOT / "console" / "dist" / "index.html").is_file():
        return "Console: not built (`make console`), so the gateway serves none."
    return (
        f"Console: http://127.0.0.1:{gateway_port}/ — sign in as `demo-user` to see the demo's "
        "account, its run and articles (or as anyone else to start afresh)."
    )


def spawn(name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    log = open(LOGS / f"{name}.log", "ab")  # noqa: SIM115 - lives as long as the child
    return subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--demo", action="store_true", help="run the demo once everything is up")
    parser.add_argument("--exit-after-demo", action="store_true")
    args = parser.parse_args()
    LOGS.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    ports = {
        name: int(os.environ.get(f"{name.upper()}_HTTP_PORT", port))
        for name, port in SERVICES.items()
    }
    taken = [(name, port) for name, port in ports.items() if port_taken(port)]
    if taken:
        for name, port in taken:
            print(
                f"port {port} for {name} is taken: set {name.upper()}_HTTP_PORT to a free port "
                f"(e.g. `{name.upper()}_HTTP_PORT={port + 1000} make run`)"
            )
        return 1
    env = service_environment(env, ports)
    children: dict[str, subprocess.Popen[bytes]] = {}
    checks: dict[str, tuple[int, str]] = {name: (port, "/readyz") for name, port in ports.items()}
    if not any(os.environ.get(v) for v in AI_VARIABLES):
        ai_port = int(os.environ.get("IGNY8_DEV_AI_PORT", "8199"))
        if port_taken(ai_port):
            print(f"port {ai_port} for the development AI server is taken: set IGNY8_DEV_AI_PORT")
            return 1
        children["dev-ai"] = spawn(
            "dev-ai", [str(BIN / "igny8-dev-ai"), "--port", str(ai_port)], env
        )
        env["AUTOMATION_OPENAI_BASE_URL"] = f"http://127.0.0.1:{ai_port}/v1"
        if not env.get("PUBLISHING_OPENAI_API_KEY"):  # the optimizer, unless given its own
            env.setdefault("PUBLISHING_OPENAI_BASE_URL", env["AUTOMATION_OPENAI_BASE_URL"])
        checks["dev-ai"] = (ai_port, "/v1/models")
        print(
            f"AI provider: the local DEVELOPMENT server on 127.0.0.1:{ai_port} "
            "(set OPENAI_API_KEY or AUTOMATION_OPENAI_BASE_URL for a real one)"
        )
    if not os.environ.get("BILLING_STRIPE_API_BASE") and STRIPE_MOCK.exists():
        # No Stripe configured: billing talks to stripe-mock, and the demo (and `make credits`,
        # which reads it from STACK_FILE) signs the webhooks with this secret (stripe-mock sends
        # none).
        stripe_port = int(os.environ.get("IGNY8_STRIPE_MOCK_PORT", "12111"))
        children["stripe-mock"] = spawn(
            "stripe-mock",
            [str(STRIPE_MOCK), "-http-addr", f"127.0.0.1:{stripe_port}",
             "-https-addr", f"127.0.0.1:{stripe_port + 1}"],
            env,
        )  # fmt: skip
        env["BILLING_STRIPE_API_BASE"] = f"http://127.0.0.1:{stripe_port}"
        env.setdefault("BILLING_STRIPE_WEBHOOK_SECRET", f"whsec_{secrets.token_hex(16)}")
        print(f"Payments: stripe-mock on 127.0.0.1:{stripe_port} (set BILLING_STRIPE_* for Stripe)")
    for name, port in ports.items():
        # each service gets its own private key only (the demo, a script, keeps all of them)
        own = {
            k: v
            for k, v in env.items()
            if not k.endswith("_SERVICE_PRIVATE_KEY") or k == f"{name.upper()}_SERVICE_PRIVATE_KEY"
        }
        children[name] = spawn(name, [str(BIN / name), "serve", "--port", str(port)], own)
    try:
        # generous: on a loaded machine the five services import for a while
        deadline = time.monotonic() + float(os.environ.get("IGNY8_START_TIMEOUT_S", "240"))
        pending = set(checks)
        while pending and time.monotonic() < deadline:
            for name in list(pending):
                if children[name].poll() is not None:
                    print(
                        f"{name} exited with {children[name].returncode}; see {LOGS / (name + '.log')}"
                    )
                    return 1
                if ready(*checks[name]):
                    pending.discard(name)
            time.sleep(0.3)
        if pending:
            print(f"not ready in time: {', '.join(sorted(pending))}; see {LOGS}")
            return 1
        print("\nIGNY8 is up:")
        print(f"  {'kafka':<12} {os.environ.get('KAFKA_BOOTSTRAP_SERVERS')}")
        for name, port in ports.items():
            print(
                f"  {name:<12} http://127.0.0.1:{port}  (docs /docs, probes /healthz /readyz, /metrics)"
            )
        print(f"  {'logs':<12} {LOGS}", flush=True)
        print(
            f"  front door   http://127.0.0.1:{ports['gateway']}/v1 with a development token:\n"
            f"               GATEWAY_JWT_DEV_SECRET={DEV_SECRET} .venv/bin/gateway dev-token "
            "--user you\n               (services/gateway/README.md, 'Authenticate')",
            flush=True,
        )
        print("  try the API: README.md, section 'Try the API'", flush=True)
        console = console_line(ports["gateway"])
        recorded: dict[str, object] = {"pid": os.getpid(), "ports": ports}
        if "stripe-mock" in children:
            # `make credits` plays Stripe's part for this stack, so it signs with this secret
            recorded["stripe_webhook_secret"] = env["BILLING_STRIPE_WEBHOOK_SECRET"]
        STACK_FILE.unlink(missing_ok=True)
        STACK_FILE.touch(mode=0o600)  # it may hold the webhook secret
        STACK_FILE.write_text(json.dumps(recorded))
        if args.demo:
            print("\n--- demo ---", flush=True)
            demo = subprocess.run(
                [sys.executable, str(ROOT / "scripts" / "demo.py")], env=env, check=False
            )
            if args.exit_after_demo:
                return demo.returncode
        print(f"\n{console}", flush=True)
        print(
            "\nCtrl-C stops the services (`make infra-down` stops Kafka and PostgreSQL).",
            flush=True,
        )
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
        return 0
    finally:
        STACK_FILE.unlink(missing_ok=True)
        stop(children)


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
