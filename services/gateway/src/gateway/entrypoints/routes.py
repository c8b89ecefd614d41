"""The one route table of `/v1`: every public route, the service that owns it, the internal path
it maps to and the least role that may call it. `proxy.py` turns each row into a documented
FastAPI route; nothing else is hand-written per route.

Roles (DESIGN §7): viewers read; editors change content and start runs; admins manage sites,
integrations and billing; owners everything. `platform` rows are for the operator only."""

from __future__ import annotations

from gateway.entrypoints.route_table import Route
from gateway.entrypoints.routes_automation import AUTOMATION_ROUTES
from gateway.entrypoints.routes_billing import BILLING_ROUTES
from gateway.entrypoints.routes_integration import INTEGRATION_ROUTES
from gateway.entrypoints.routes_publishing import PUBLISHING_ROUTES

__all__ = ["ROUTES", "Route"]

ROUTES: tuple[Route, ...] = (
    *INTEGRATION_ROUTES,
    *AUTOMATION_ROUTES,
    *BILLING_ROUTES,
    *PUBLISHING_ROUTES,
)
