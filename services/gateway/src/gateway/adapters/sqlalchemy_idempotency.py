"""`idempotency_keys` in PostgreSQL: the claim is one INSERT … ON CONFLICT DO NOTHING, so two
replicas racing with one key see exactly one winner."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.adapters.sqlalchemy_tables import idempotency_keys
from gateway.ports import StoredAnswer


class SqlAlchemyIdempotencyKeys:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    @staticmethod
    def _where(account_id: uuid.UUID, key: str) -> sa.ColumnElement[bool]:
        return (idempotency_keys.c.account_id == account_id) & (idempotency_keys.c.key == key)

    async def claim(self, account_id: uuid.UUID, key: str, fingerprint: str) -> StoredAnswer | None:
        async with self._engine.begin() as conn:
            claimed = await conn.execute(
                insert(idempotency_keys)
                .values(account_id=account_id, key=key, fingerprint=fingerprint)
                .on_conflict_do_nothing()
                .returning(idempotency_keys.c.key)
            )
            if claimed.first() is not None:
                return None
            row = (
                await conn.execute(sa.select(idempotency_keys).where(self._where(account_id, key)))
            ).one()
        return StoredAnswer(row.fingerprint, row.status, row.body, row.content_type)

    async def complete(
        self,
        account_id: uuid.UUID,
        key: str,
        status: int,
        body: bytes,
        content_type: str | None,
    ) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                idempotency_keys.update()
                .where(self._where(account_id, key))
                .values(status=status, body=body, content_type=content_type)
            )

    async def release(self, account_id: uuid.UUID, key: str) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(idempotency_keys.delete().where(self._where(account_id, key)))
