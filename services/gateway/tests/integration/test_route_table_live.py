"""Every route-table row reaches an operation the real service serves: called through the gateway
with ids nobody owns, each answers the service's own refusal (its typed 404 naming the object, or
a 409/422 of its checks) — never the 404/405 of a path or method the service does not have, as
`/runs/{id}/pause` would if automation still served only `/runs/{id}/{action}`."""

from __future__ import annotations

import re
import uuid

import pytest
from gateway_support import as_user

from gateway.entrypoints.routes import ROUTES

pytestmark = pytest.mark.integration
PARAM = re.compile(r"{(\w+)}")
RUNNING = {"billing", "integration", "automation"}  # publishing is not started here
NO_SUCH_ROUTE = {"Not Found", "Method Not Allowed"}  # what FastAPI answers for a missing route


async def test_every_row_reaches_a_route_the_service_serves(gateway, new_account):
    owner, account = await new_account()
    reached = 0
    for route in ROUTES:
        if route.public or route.platform or route.service not in RUNNING:
            continue
        path = "/v1" + PARAM.sub(lambda _: str(uuid.uuid4()), route.path)
        answer = await gateway.request(
            route.method,
            path,
            json={} if route.body else None,
            headers=as_user(owner, account),
        )
        label = f"{route.method} {route.path} -> {answer.status_code} {answer.text[:200]}"
        assert answer.status_code != 405, label
        assert answer.status_code < 500, label
        if answer.status_code == 404:
            assert answer.json()["error"]["message"] not in NO_SUCH_ROUTE, label
        reached += 1
    assert reached > 40


async def test_run_actions_reach_automations_run_lookup(gateway, new_account):
    owner, account = await new_account()
    for action in ("pause", "resume", "cancel"):
        answer = await gateway.post(
            f"/v1/runs/{uuid.uuid4()}/{action}", headers=as_user(owner, account)
        )
        assert answer.status_code == 404, answer.text
        assert answer.json()["error"]["message"] == "run not found"
