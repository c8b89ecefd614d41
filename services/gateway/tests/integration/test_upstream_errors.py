"""A service's error reaches the caller in the one shape with the gateway's request id, keeping
the fields the service documents beyond the standard ones."""

from __future__ import annotations

import uuid

import httpx
import pytest
from fastapi import FastAPI
from gateway_support import as_user

from igny8.webapi import ApiError, install_error_handlers

pytestmark = pytest.mark.integration


def short_of_credits(run_id: str) -> httpx.ASGITransport:
    """Automation's start-a-run answer when billing refused the credits (raised as
    `entrypoints/http_runs.py` raises it, rendered by the platform's error handlers): a rejected
    run is only reached through billing's reservation over Kafka, which this stack does not run."""
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/sites/{site_id}/runs")
    async def start(site_id: uuid.UUID) -> None:
        raise ApiError(
            402,
            "insufficient_credits",
            "not enough credits for this run",
            extra={"run_id": run_id, "required": 1200, "available": 300},
        )

    return httpx.ASGITransport(app=app)


async def test_the_documented_extra_fields_of_a_services_error_pass_through(
    make_gateway, new_account
):
    owner, account = await new_account()
    run_id = str(uuid.uuid4())
    gateway = await make_gateway(mounts_extra={"http://automation": short_of_credits(run_id)})
    async with gateway:
        refused = await gateway.post(
            f"/v1/sites/{uuid.uuid4()}/runs", json={}, headers=as_user(owner, account)
        )
    assert refused.status_code == 402, refused.text
    error = refused.json()["error"]
    assert error["code"] == "insufficient_credits"
    assert error["type"] == "payment_required_error"
    assert (error["run_id"], error["required"], error["available"]) == (run_id, 1200, 300)
    assert error["request_id"] == refused.headers["x-request-id"]
