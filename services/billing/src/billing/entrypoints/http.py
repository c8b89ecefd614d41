"""Internal HTTP API of billing (service token, X-Account-Id, X-Roles). Thin: parse, authorize,
call one use case or query, map the outcome."""

import uuid
from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from billing.adapters.sqlalchemy_queries import SqlAlchemyBillingQueries
from billing.adapters.sqlalchemy_unit_of_work import BillingUnitOfWork
from billing.app import commands
from billing.app.accounts import change_threshold, open_account
from billing.app.grant_credits import grant_credits
from billing.app.prices import change_prices, quote
from billing.domain.errors import BillingError, InsufficientCredits
from billing.domain.ledger import MovementKind
from billing.domain.pricing import Price
from billing.entrypoints.errors import http_status
from billing.entrypoints.http_models import (
    AccountOpened,
    AccountSettings,
    AccountSettingsPatch,
    Balance,
    Costs,
    CostsBody,
    CostsChanged,
    GrantBody,
    GrantView,
    OpenAccount,
    Quote,
    QuoteBody,
    Settings,
    TransactionPage,
    Usage,
)
from billing.ports import Clock, Policy
from igny8.auth import Caller
from igny8.webapi import INT64_MAX, error_response, errors
from igny8.webapi.errors import RETRY_AFTER_S


def _price(p: Price) -> dict[str, Any]:
    return {
        "operation": p.operation,
        "unit": p.unit.value,
        "credits_per_unit": p.credits_per_unit,
        "minimum_credits": p.minimum_credits,
        "display_name": p.display_name,
        "effective_at": p.effective_at.isoformat() if p.effective_at else None,
    }


def billing_error_handler(request: Request, error: Exception) -> JSONResponse:
    """A domain error in the platform's one error format; `code` is the domain reason."""
    assert isinstance(error, BillingError)
    extra = {}
    if isinstance(error, InsufficientCredits):
        extra = {"required": error.required, "available": error.available}
    status = http_status(error)
    return error_response(
        request,
        status,
        error.detail or error.reason,
        code="parameter_invalid" if error.reason == "invalid" else error.reason,
        # A 503 is the payment provider being unreachable: the stored attempt is resent under
        # the same idempotency key, so retrying is safe and the header says when.
        headers={"Retry-After": RETRY_AFTER_S} if status == 503 else None,
        extra=extra,
    )


def create_router(
    sessions: async_sessionmaker[AsyncSession],
    clock: Clock,
    policy: Policy,
    admits: Callable[..., Callable[..., Caller]],
) -> APIRouter:
    router = APIRouter()
    FrontDoor = Annotated[Caller, Depends(admits("gateway"))]
    Internal = Annotated[Caller, Depends(admits("gateway", "automation"))]

    def tenant(caller: Caller, account_id: uuid.UUID) -> uuid.UUID:
        """Another account's data is answered as missing, never as forbidden."""
        if caller.account_id != account_id and not caller.is_platform_admin:
            raise HTTPException(404, "account not found")
        return account_id

    def platform_admin(caller: Caller) -> None:
        if not caller.is_platform_admin:
            raise HTTPException(403, "platform_admin role required")

    @router.post(
        "/accounts",
        status_code=201,
        tags=["accounts"],
        summary="Open a billing account (idempotent on the account id)",
        response_model=AccountOpened,
        responses={200: {"model": AccountOpened, "description": "Already open."}, **errors(404)},
    )
    async def open_(body: OpenAccount, caller: FrontDoor, response: Response) -> dict[str, Any]:
        tenant(caller, body.account_id)
        async with BillingUnitOfWork(sessions) as uow:
            created = await open_account(body.account_id, body.low_balance_threshold, uow)
            await uow.commit()
        if not created:
            response.status_code = 200
        return {"account_id": str(body.account_id), "created": created}

    @router.get(
        "/accounts/{account_id}/balance",
        tags=["accounts"],
        summary="Available and held credits, by grant kind, with the next expiries",
        response_model=Balance,
        responses=errors(404),
    )
    async def balance(account_id: uuid.UUID, caller: Internal) -> dict[str, Any]:
        tenant(caller, account_id)
        async with sessions() as session:
            found = await SqlAlchemyBillingQueries(session).balance(account_id, clock.now())
        if found is None:
            raise HTTPException(404, "account not found")
        return found

    async def current_settings(account_id: uuid.UUID) -> dict[str, Any]:
        async with sessions() as session:
            found = await SqlAlchemyBillingQueries(session).balance(account_id, clock.now())
        if found is None:
            raise HTTPException(404, "account not found")
        return {"account_id": account_id, "low_balance_threshold": found["low_balance_threshold"]}

    @router.get(
        "/accounts/{account_id}/settings",
        tags=["accounts"],
        summary="The account's settings",
        response_model=Settings,
        responses=errors(404),
    )
    async def read_settings(account_id: uuid.UUID, caller: FrontDoor) -> dict[str, Any]:
        return await current_settings(tenant(caller, account_id))

    @router.put(
        "/accounts/{account_id}/settings",
        tags=["accounts"],
        summary="Replace the account's settings (omitted fields return to their defaults)",
        response_model=Settings,
        responses=errors(404),
    )
    async def settings(
        account_id: uuid.UUID, body: AccountSettings, caller: FrontDoor
    ) -> dict[str, Any]:
        tenant(caller, account_id)
        async with BillingUnitOfWork(sessions) as uow:
            await change_threshold(account_id, body.low_balance_threshold, uow)
            await uow.commit()
        return {"account_id": account_id, "low_balance_threshold": body.low_balance_threshold}

    @router.patch(
        "/accounts/{account_id}/settings",
        tags=["accounts"],
        summary="Change only the given settings (merge); null resets a field to its default",
        response_model=Settings,
        responses=errors(404),
    )
    async def patch_settings(
        account_id: uuid.UUID, body: AccountSettingsPatch, caller: FrontDoor
    ) -> dict[str, Any]:
        tenant(caller, account_id)
        changes = body.model_dump(exclude_unset=True)
        if "low_balance_threshold" in changes:
            async with BillingUnitOfWork(sessions) as uow:
                await change_threshold(account_id, changes["low_balance_threshold"], uow)
                await uow.commit()
        return await current_settings(account_id)

    @router.post(
        "/accounts/{account_id}/grants",
        status_code=201,
        tags=["accounts"],
        summary="Grant credits by hand (platform_admin; idempotent on Idempotency-Key)",
        response_model=GrantView,
        responses={
            200: {"model": GrantView, "description": "Replay of an earlier grant with this key."},
            **errors(404, 409, s409="The Idempotency-Key was used with other parameters."),
        },
    )
    async def grant(
        account_id: uuid.UUID,
        body: GrantBody,
        caller: FrontDoor,
        response: Response,
        idempotency_key: Annotated[str, Header(min_length=1, max_length=200)],
    ) -> dict[str, Any]:
        platform_admin(caller)
        cmd = commands.GrantCredits(
            account_id, body.credits, body.kind, idempotency_key, body.expires_at
        )
        async with BillingUnitOfWork(sessions) as uow:
            granted = await grant_credits(cmd, uow, clock, policy)
            await uow.commit()
        if not granted.created:
            response.status_code = 200
        g = granted.grant
        return {
            "grant_id": str(g.grant_id),
            "account_id": str(account_id),
            "kind": g.kind.value,
            "credits": g.credits,
            "expires_at": g.expires_at.isoformat() if g.expires_at else None,
        }

    @router.get(
        "/accounts/{account_id}/transactions",
        tags=["accounts"],
        summary="Ledger transactions, newest first (cursor pagination)",
        response_model=TransactionPage,
        responses=errors(404),
    )
    async def transactions(
        account_id: uuid.UUID,
        caller: FrontDoor,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        cursor: Annotated[
            int | None,
            Query(ge=1, le=INT64_MAX, description="`next_cursor` of the previous page."),
        ] = None,
        kind: Annotated[MovementKind | None, Query()] = None,
        since: AwareDatetime | None = None,
        until: AwareDatetime | None = None,
    ) -> dict[str, Any]:
        tenant(caller, account_id)
        async with sessions() as session:
            items, next_cursor = await SqlAlchemyBillingQueries(session).transactions(
                account_id, limit, cursor, kind, since, until
            )
        return {"items": items, "has_more": next_cursor is not None, "next_cursor": next_cursor}

    @router.get(
        "/accounts/{account_id}/usage",
        tags=["accounts"],
        summary="Captured usage, grouped by operation, model, day or run",
        response_model=Usage,
        # a row's provider cost is left out (not null) for customers
        response_model_exclude_unset=True,
        responses=errors(404),
    )
    async def usage(
        account_id: uuid.UUID,
        caller: FrontDoor,
        group_by: Literal["operation", "model", "day", "run"] = "operation",
        since: AwareDatetime | None = None,
        until: AwareDatetime | None = None,
    ) -> dict[str, Any]:
        tenant(caller, account_id)
        async with sessions() as session:
            rows = await SqlAlchemyBillingQueries(session).usage(account_id, group_by, since, until)
        if not caller.is_platform_admin:  # the platform's own cost is not the customer's business
            for row in rows:
                del row["provider_cost_usd"]
        return {"group_by": group_by, "rows": rows}

    @router.get("/costs", tags=["costs"], summary="The cost table in force", response_model=Costs)
    async def costs(caller: Internal) -> dict[str, Any]:
        async with BillingUnitOfWork(sessions) as uow:
            prices = await uow.prices.prices_at(clock.now())
        return {"prices": [_price(p) for p in prices.values()]}

    @router.put(
        "/costs",
        tags=["costs"],
        summary="Change prices from `effective_at` on (platform_admin; the listed operations only)",
        response_model=CostsChanged,
    )
    async def put_costs(body: CostsBody, caller: FrontDoor) -> dict[str, Any]:
        platform_admin(caller)
        now = clock.now()
        effective = body.effective_at or now
        prices = [
            Price(p.operation, p.unit, p.credits_per_unit, p.minimum_credits, p.display_name)
            for p in body.prices
        ]
        async with BillingUnitOfWork(sessions) as uow:
            await change_prices(prices, effective, now, uow)
            await uow.commit()
        return {"effective_at": effective.isoformat(), "prices": [_price(p) for p in prices]}

    @router.post(
        "/quotes",
        tags=["costs"],
        summary="Price quantities with the cost table in force",
        response_model=Quote,
        responses=errors(422),
    )
    async def quotes(body: QuoteBody, caller: Internal) -> dict[str, Any]:
        async with BillingUnitOfWork(sessions) as uow:
            lines = await quote(
                [commands.Item(i.operation, i.quantity) for i in body.items], uow, clock.now()
            )
        return {
            "credits": sum(line.credits for line in lines),
            "lines": [
                {
                    "operation": line.operation,
                    "quantity": line.quantity,
                    "credits": line.credits,
                    "price": _price(line.price),
                }
                for line in lines
            ],
        }

    return router
