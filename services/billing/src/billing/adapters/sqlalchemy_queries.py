"""Read side of the billing API: balances, transactions, usage. Every query is tenant-scoped."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from billing.adapters.sqlalchemy_tables import (
    billing_accounts,
    grants,
    ledger_entries,
    ledger_transactions,
    usage_log,
)

UsageGrouping = Literal["operation", "model", "day", "run"]


def plain_decimal(value: Decimal) -> str:
    """A decimal as people write it: `0`, `0.0042`, `120` (not numeric(18, 8)'s `0E-8`)."""
    return format(value.normalize(), "f")


class SqlAlchemyBillingQueries:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def balance(self, account_id: uuid.UUID, now: datetime) -> dict[str, Any] | None:
        account = (
            await self.session.execute(
                sa.select(billing_accounts).where(billing_accounts.c.account_id == account_id)
            )
        ).first()
        if account is None:
            return None
        live = (
            await self.session.execute(
                sa.select(grants)
                .where(grants.c.account_id == account_id, ~grants.c.swept)
                .order_by(grants.c.expires_at.nulls_last(), grants.c.created_at)
            )
        ).all()
        by_kind: dict[str, dict[str, int]] = {
            kind: {"available": 0, "held": 0} for kind in ("paid", "plan", "promo")
        }
        for g in live:
            by_kind[g.kind]["available"] += g.available
            by_kind[g.kind]["held"] += g.held
        return {
            "account_id": str(account_id),
            "available": account.available,
            "held": account.held,
            "by_kind": by_kind,
            "next_expiries": [
                {
                    "grant_id": str(g.grant_id),
                    "kind": g.kind,
                    "available": g.available,
                    "held": g.held,
                    "expires_at": g.expires_at.isoformat(),
                }
                for g in live
                if g.expires_at is not None and g.expires_at > now and (g.available or g.held)
            ][:5],
            "low_balance_threshold": account.low_balance_threshold,
        }

    async def transactions(
        self,
        account_id: uuid.UUID,
        limit: int,
        before_seq: int | None,
        kind: str | None,
        since: datetime | None,
        until: datetime | None,
    ) -> tuple[list[dict[str, Any]], int | None]:
        """Newest first; the cursor is the sequence number of the last item returned."""
        t = ledger_transactions
        query = sa.select(t).where(t.c.account_id == account_id)
        if before_seq is not None:
            query = query.where(t.c.seq < before_seq)
        if kind:
            query = query.where(t.c.kind == kind)
        if since:
            query = query.where(t.c.created_at >= since)
        if until:
            query = query.where(t.c.created_at < until)
        rows = (await self.session.execute(query.order_by(t.c.seq.desc()).limit(limit + 1))).all()
        page = rows[:limit]
        entries: dict[uuid.UUID, list[dict[str, Any]]] = {r.transaction_id: [] for r in page}
        if page:
            for e in await self.session.execute(
                sa.select(ledger_entries)
                .where(
                    ledger_entries.c.account_id == account_id,
                    ledger_entries.c.transaction_id.in_(list(entries)),
                )
                .order_by(ledger_entries.c.id)
            ):
                entries[e.transaction_id].append(
                    {
                        "book": e.book,
                        "amount": e.amount,
                        "balance_after": e.balance_after,
                        "grant_id": str(e.grant_id) if e.grant_id else None,
                    }
                )
        items = [
            {
                "transaction_id": str(r.transaction_id),
                "seq": r.seq,
                "kind": r.kind,
                "reference": r.reference,
                "created_at": r.created_at.isoformat(),
                "entries": entries[r.transaction_id],
            }
            for r in page
        ]
        return items, (page[-1].seq if len(rows) > limit else None)

    async def usage(
        self,
        account_id: uuid.UUID,
        group_by: UsageGrouping,
        since: datetime | None,
        until: datetime | None,
    ) -> list[dict[str, Any]]:
        u = usage_log
        key: Any = {
            "operation": u.c.operation,
            "model": sa.func.coalesce(u.c.model, ""),
            "day": sa.func.to_char(sa.func.date_trunc("day", u.c.created_at), "YYYY-MM-DD"),
            "run": sa.cast(u.c.run_id, sa.Text),
        }[group_by]
        query = sa.select(
            key.label("key"),
            sa.func.count().label("commits"),
            sa.func.sum(u.c.quantity).label("quantity"),
            sa.func.sum(u.c.credits).label("credits"),
            sa.func.coalesce(sa.func.sum(u.c.input_tokens), 0).label("input_tokens"),
            sa.func.coalesce(sa.func.sum(u.c.output_tokens), 0).label("output_tokens"),
            sa.func.coalesce(sa.func.sum(u.c.provider_cost_usd), 0).label("provider_cost_usd"),
        ).where(u.c.account_id == account_id)
        if since:
            query = query.where(u.c.created_at >= since)
        if until:
            query = query.where(u.c.created_at < until)
        rows = await self.session.execute(query.group_by(key).order_by(key))
        return [
            {
                "key": r.key,
                "commits": r.commits,
                "quantity": int(r.quantity),
                "credits": int(r.credits),
                "input_tokens": int(r.input_tokens),
                "output_tokens": int(r.output_tokens),
                "provider_cost_usd": plain_decimal(r.provider_cost_usd),
            }
            for r in rows
        ]
