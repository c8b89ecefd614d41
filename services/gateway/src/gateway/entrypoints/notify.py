"""Notifications: signed outbound webhooks and e-mails, from the events an account cares about.

One consumer group (`gateway.notify`, shared by the replicas) turns each event into one delivery
per subscribed endpoint and one e-mail per owner or admin with an address — unique by event, so a
redelivered event notifies nobody twice. Timers send what is due: a row is claimed by pushing its
next attempt into the future (SKIP LOCKED), the call is made outside any transaction, and the
outcome is recorded; failures back off exponentially and an endpoint failing too often in a row
is disabled."""

import asyncio
import contextlib
import json
import secrets
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Protocol

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from gateway.adapters.sqlalchemy_tables import (
    emails,
    memberships,
    users,
    webhook_deliveries,
    webhook_endpoints,
)
from gateway.config import GatewaySettings
from gateway.domain.errors import Forbidden, InvalidInput, NotFound
from gateway.domain.model import Principal, Role
from gateway.domain.notifications import (
    SIGNATURE_HEADER,
    WEBHOOK_EVENTS,
    backoff_s,
    email_for,
    signature,
)
from gateway.entrypoints.context import Gateway
from igny8.contracts import TOPICS, Envelope
from igny8.messaging import Subscription
from igny8.net import BlockedUrl, GuardedHttp, UrlGuard
from igny8.observability import get_logger
from igny8.webapi import errors

log = get_logger(__name__)
BATCH = 20
LEASE = timedelta(minutes=2)


class Mailer(Protocol):
    async def send(self, to: str, subject: str, text: str) -> None: ...


def notify_topics() -> tuple[str, ...]:
    return tuple(sorted(s.name for s in TOPICS if s.name in WEBHOOK_EVENTS))


async def enqueue(envelope: Envelope, payload: BaseModel, session: AsyncSession) -> None:
    account = envelope.account_id
    if account is None:
        return
    data = payload.model_dump(mode="json", exclude={"html"} & set(type(payload).model_fields))
    body = json.dumps(
        {
            "id": str(envelope.id),
            "type": envelope.type,
            "created": envelope.time.isoformat(),
            "account_id": str(account),
            "data": data,
        },
        separators=(",", ":"),
    ).encode()
    endpoints = await session.execute(
        sa.select(webhook_endpoints.c.endpoint_id).where(
            webhook_endpoints.c.account_id == account,
            webhook_endpoints.c.enabled,
            sa.literal(envelope.type) == sa.any_(webhook_endpoints.c.events),
        )
    )
    for (endpoint_id,) in endpoints:
        await session.execute(
            insert(webhook_deliveries)
            .values(
                delivery_id=uuid.uuid4(),
                endpoint_id=endpoint_id,
                event_id=envelope.id,
                type=envelope.type,
                body=body,
            )
            .on_conflict_do_nothing()
        )
    mail = email_for(envelope.type, data)
    if mail is None:
        return
    people = await session.execute(
        sa.select(users.c.email)
        .join(memberships, memberships.c.user_id == users.c.user_id)
        .where(
            memberships.c.account_id == account,
            memberships.c.role.in_(("owner", "admin")),
            users.c.email.is_not(None),
        )
    )
    for (address,) in people:
        await session.execute(
            insert(emails)
            .values(
                email_id=uuid.uuid4(),
                account_id=account,
                event_id=envelope.id,
                recipient=address,
                subject=mail[0],
                text=mail[1],
            )
            .on_conflict_do_nothing()
        )


def subscriptions() -> list[Subscription]:
    return [Subscription(topics=notify_topics(), purpose="notify", handler=enqueue)]


async def _claim(engine: AsyncEngine, table: sa.Table, key: sa.Column[Any]) -> list[Any]:
    due = (
        sa.select(key)
        .where(table.c.status == "pending", table.c.next_attempt_at <= sa.func.now())
        .order_by(table.c.next_attempt_at)
        .limit(BATCH)
        .with_for_update(skip_locked=True)
    )
    # Chosen and locked first, then leased by id: inside an UPDATE's IN, PostgreSQL may evaluate a
    # LIMIT ... SKIP LOCKED subquery more than once and lease more than BATCH rows.
    async with engine.begin() as conn:
        ids = list((await conn.execute(due)).scalars())
        if not ids:
            return []
        return list(
            await conn.execute(
                table.update()
                .where(key.in_(ids))
                .values(next_attempt_at=sa.func.now() + LEASE)
                .returning(*table.c)
            )
        )


async def deliver_webhooks(
    engine: AsyncEngine, settings: GatewaySettings, http: GuardedHttp
) -> int:
    rows = await _claim(engine, webhook_deliveries, webhook_deliveries.c.delivery_id)
    for row in rows:
        async with engine.connect() as conn:
            endpoint = (
                await conn.execute(
                    webhook_endpoints.select().where(
                        webhook_endpoints.c.endpoint_id == row.endpoint_id
                    )
                )
            ).one()
        error, status = None, None
        if not endpoint.enabled:
            error = "endpoint disabled"
        else:
            headers = {
                "Content-Type": "application/json",
                SIGNATURE_HEADER: signature(endpoint.secret, int(time.time()), row.body),
                "IGNY8-Event-Id": str(row.event_id),
                "IGNY8-Event-Type": row.type,
            }
            try:
                answer = await http.request("POST", endpoint.url, content=row.body, headers=headers)
                status = answer.status_code
                if not 200 <= status < 300:
                    error = f"answered {status}"
            except BlockedUrl as exc:
                error = f"blocked: {exc}"
            except Exception as exc:  # any transport failure is a failed attempt, retried
                error = f"{type(exc).__name__}: {exc}"[:300]
        await _record_delivery(engine, settings, row, endpoint, status, error)
    return len(rows)


async def _record_delivery(
    engine: AsyncEngine,
    settings: GatewaySettings,
    row: Any,
    endpoint: Any,
    status: int | None,
    error: str | None,
) -> None:
    now = datetime.now(UTC)
    attempts = row.attempts + 1
    async with engine.begin() as conn:
        if error is None:
            await conn.execute(
                webhook_deliveries.update()
                .where(webhook_deliveries.c.delivery_id == row.delivery_id)
                .values(status="delivered", attempts=attempts, last_status=status, delivered_at=now)
            )
            await conn.execute(
                webhook_endpoints.update()
                .where(webhook_endpoints.c.endpoint_id == row.endpoint_id)
                .values(consecutive_failures=0)
            )
            return
        final = attempts >= settings.webhook_max_attempts or not endpoint.enabled
        await conn.execute(
            webhook_deliveries.update()
            .where(webhook_deliveries.c.delivery_id == row.delivery_id)
            .values(
                status="failed" if final else "pending",
                attempts=attempts,
                last_status=status,
                last_error=error,
                next_attempt_at=now
                + timedelta(seconds=backoff_s(attempts, settings.webhook_backoff_s)),
            )
        )
        if endpoint.enabled:
            failures = endpoint.consecutive_failures + 1
            disable = failures >= settings.webhook_disable_after
            await conn.execute(
                webhook_endpoints.update()
                .where(webhook_endpoints.c.endpoint_id == row.endpoint_id)
                .values(
                    consecutive_failures=webhook_endpoints.c.consecutive_failures + 1,
                    enabled=not disable,
                    disabled_reason=f"{failures} failed attempts in a row" if disable else None,
                )
            )


async def send_emails(engine: AsyncEngine, settings: GatewaySettings, mailer: Mailer) -> int:
    rows = await _claim(engine, emails, emails.c.email_id)
    for row in rows:
        error = None
        try:
            await mailer.send(row.recipient, row.subject, row.text)
        except Exception as exc:  # SMTP or network: retried with backoff
            error = f"{type(exc).__name__}: {exc}"[:300]
        attempts = row.attempts + 1
        now = datetime.now(UTC)
        values: dict[str, Any] = (
            {"status": "sent", "sent_at": now, "attempts": attempts}
            if error is None
            else {
                "status": "failed" if attempts >= settings.webhook_max_attempts else "pending",
                "attempts": attempts,
                "last_error": error,
                "next_attempt_at": now
                + timedelta(seconds=backoff_s(attempts, settings.webhook_backoff_s)),
            }
        )
        async with engine.begin() as conn:
            await conn.execute(
                emails.update().where(emails.c.email_id == row.email_id).values(**values)
            )
    return len(rows)


def timers(engine: AsyncEngine, settings: GatewaySettings, mailer: Mailer | None) -> list[Any]:
    allow = [a.strip() for a in settings.webhook_allow.split(",") if a.strip()]

    async def webhooks(stop: asyncio.Event) -> None:
        http = GuardedHttp(UrlGuard(allow), timeout_s=settings.webhook_timeout_s, max_redirects=0)
        try:
            while not stop.is_set():
                try:
                    busy = await deliver_webhooks(engine, settings, http)
                except Exception:
                    log.exception("webhook delivery tick failed")
                    busy = 0
                if not busy:
                    with _suppress_timeout():
                        await asyncio.wait_for(stop.wait(), settings.notify_poll_s)
        finally:
            await http.aclose()

    async def mail(stop: asyncio.Event) -> None:
        assert mailer is not None
        while not stop.is_set():
            try:
                busy = await send_emails(engine, settings, mailer)
            except Exception:
                log.exception("e-mail tick failed")
                busy = 0
            if not busy:
                with _suppress_timeout():
                    await asyncio.wait_for(stop.wait(), settings.notify_poll_s)

    return [webhooks, mail] if mailer is not None else [webhooks]


def _suppress_timeout() -> contextlib.suppress:
    return contextlib.suppress(TimeoutError)


class NewEndpoint(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(min_length=8, max_length=2000, pattern="^https?://")
    events: list[str] = Field(min_length=1, max_length=len(WEBHOOK_EVENTS))


class EndpointView(BaseModel):
    endpoint_id: uuid.UUID
    url: str
    events: list[str]
    enabled: bool
    consecutive_failures: int
    disabled_reason: str | None


class CreatedEndpoint(EndpointView):
    secret: str = Field(description="The signing secret. Shown once: store it now.")


class EndpointList(BaseModel):
    items: list[EndpointView]


class Delivery(BaseModel):
    delivery_id: uuid.UUID
    event_id: uuid.UUID
    type: str
    status: str
    attempts: int
    last_status: int | None
    last_error: str | None


class DeliveryList(BaseModel):
    items: list[Delivery]


def create_router(gw: Gateway, member: Any) -> APIRouter:
    router = APIRouter(prefix="/v1/webhook-endpoints", tags=["notifications"])
    InAccount = Annotated[Principal, Depends(member)]
    common = errors(400, 401, 403, 404, 422, 429)
    allow = [a.strip() for a in gw.settings.webhook_allow.split(",") if a.strip()]

    def admin(principal: Principal) -> None:
        if not principal.may(Role.ADMIN):
            raise Forbidden("this needs the admin role or higher")

    async def owned(principal: Principal, endpoint_id: uuid.UUID) -> Any:
        async with gw.engine.connect() as conn:
            row = (
                await conn.execute(
                    webhook_endpoints.select().where(
                        webhook_endpoints.c.endpoint_id == endpoint_id,
                        webhook_endpoints.c.account_id == principal.account_id,
                    )
                )
            ).first()
        if row is None:
            raise NotFound("no such webhook endpoint")
        return row

    @router.post(
        "",
        status_code=201,
        summary="Add a webhook endpoint (its secret is shown once)",
        response_model=CreatedEndpoint,
        responses=common,
    )
    async def create(body: NewEndpoint, principal: InAccount) -> dict[str, Any]:
        admin(principal)
        unknown = set(body.events) - WEBHOOK_EVENTS
        if unknown:
            raise InvalidInput(f"unknown events: {', '.join(sorted(unknown))}", param="events")
        try:
            await UrlGuard(allow).check(body.url)
        except BlockedUrl as exc:
            raise InvalidInput(f"url: {exc}", code="blocked_url", param="url") from None
        values = {
            "endpoint_id": uuid.uuid4(),
            "account_id": principal.account_id,
            "url": body.url,
            "secret": "whsec_" + secrets.token_urlsafe(32),
            "events": sorted(set(body.events)),
        }
        async with gw.engine.begin() as conn:
            await conn.execute(webhook_endpoints.insert().values(**values))
        return {**values, "enabled": True, "consecutive_failures": 0, "disabled_reason": None}

    @router.get(
        "", summary="The account's webhook endpoints", response_model=EndpointList, responses=common
    )
    async def listing(principal: InAccount) -> dict[str, Any]:
        admin(principal)
        async with gw.engine.connect() as conn:
            rows = await conn.execute(
                webhook_endpoints.select()
                .where(webhook_endpoints.c.account_id == principal.account_id)
                .order_by(webhook_endpoints.c.created_at)
            )
            return {"items": [dict(r._mapping) for r in rows]}

    @router.delete(
        "/{endpoint_id}", status_code=204, summary="Remove a webhook endpoint", responses=common
    )
    async def remove(endpoint_id: uuid.UUID, principal: InAccount) -> Response:
        admin(principal)
        await owned(principal, endpoint_id)
        async with gw.engine.begin() as conn:
            await conn.execute(
                webhook_endpoints.delete().where(webhook_endpoints.c.endpoint_id == endpoint_id)
            )
        return Response(status_code=204)

    @router.get(
        "/{endpoint_id}/deliveries",
        summary="The endpoint's delivery log, newest first",
        response_model=DeliveryList,
        responses=common,
    )
    async def deliveries(endpoint_id: uuid.UUID, principal: InAccount) -> dict[str, Any]:
        admin(principal)
        await owned(principal, endpoint_id)
        async with gw.engine.connect() as conn:
            rows = await conn.execute(
                webhook_deliveries.select()
                .where(webhook_deliveries.c.endpoint_id == endpoint_id)
                .order_by(webhook_deliveries.c.created_at.desc())
                .limit(100)
            )
            return {"items": [dict(r._mapping) for r in rows]}

    return router
