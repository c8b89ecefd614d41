"""The first hour (issue 12): `make run` wires services to the ports chosen for them, `make
infra-status` reports the ports the infrastructure started with, and the demo names a failing
request instead of printing a traceback."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]


def load(path: str) -> ModuleType:
    # a script imports its sibling modules (demo.py → demo_purchase), as when run from scripts/
    folder = str((ROOT / path).parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    spec = importlib.util.spec_from_file_location(Path(path).stem, ROOT / path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_automation_follows_the_billing_and_automation_ports_unless_told_otherwise():
    run_stack = load("scripts/run_stack.py")
    ports = {**run_stack.SERVICES, "billing": 9101, "automation": 9102}
    env = run_stack.service_environment({}, ports)
    assert env["AUTOMATION_BILLING_URL"] == "http://127.0.0.1:9101"
    assert env["AUTOMATION_PUBLIC_URL"] == "http://127.0.0.1:9102"
    explicit = run_stack.service_environment(
        {"AUTOMATION_PUBLIC_URL": "https://cdn.example"}, ports
    )
    assert explicit["AUTOMATION_PUBLIC_URL"] == "https://cdn.example"


def test_infra_status_reads_the_ports_it_started_with(tmp_path):
    (tmp_path / "ports.json").write_text(
        json.dumps({"kafka": 29092, "kafka_controller": 29093, "postgres": 29432})
    )
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("IGNY8_KAFKA_PORT", "IGNY8_PG_PORT", "IGNY8_KAFKA_CONTROLLER_PORT")
    }
    out = subprocess.run(
        [sys.executable, str(ROOT / "infra" / "local.py"), "status"],
        env={**env, "IGNY8_INFRA_DIR": str(tmp_path), "IGNY8_ENV_FILE": str(tmp_path / "env")},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "127.0.0.1:29092" in out and "127.0.0.1:29432" in out


async def test_the_demo_names_the_failing_request_and_its_status():
    demo = load("scripts/demo.py")

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"error": {"message": "token expired"}})

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
        with pytest.raises(demo.RequestFailed) as failure:
            await demo.call(client, "POST", "http://127.0.0.1:1/accounts", json={})
    assert "POST http://127.0.0.1:1/accounts answered 401" in str(failure.value)
    assert "token expired" in str(failure.value)
