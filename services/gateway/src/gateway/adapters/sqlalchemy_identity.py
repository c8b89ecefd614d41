"""IdentityStore over PostgreSQL; every call is its own short transaction."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.adapters.sqlalchemy_tables import accounts, api_keys, memberships, users
from gateway.domain.model import Role, Scope
from gateway.ports import StoredKey


def _row(row: Any) -> dict[str, Any]:
    return {
        k: (str(v) if isinstance(v, uuid.UUID) else v.isoformat() if isinstance(v, datetime) else v)
        for k, v in row._mapping.items()
    }


class SqlIdentityStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def ensure_user(self, user_id: str, email: str | None) -> bool:
        async with self._engine.begin() as conn:
            await conn.execute(
                insert(users).values(user_id=user_id, email=email).on_conflict_do_nothing()
            )
            admin = await conn.scalar(
                sa.select(users.c.platform_admin).where(users.c.user_id == user_id)
            )
        return bool(admin)

    async def lookup(self, user_id: str, account_id: uuid.UUID) -> tuple[bool, bool, Role | None]:
        query = (
            sa.select(users.c.platform_admin, memberships.c.role)
            .select_from(
                users.outerjoin(
                    memberships,
                    (memberships.c.user_id == users.c.user_id)
                    & (memberships.c.account_id == account_id),
                )
            )
            .where(users.c.user_id == user_id)
        )
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            return False, False, None
        return True, bool(row.platform_admin), Role(row.role) if row.role else None

    async def set_platform_admin(self, user_id: str, value: bool = True) -> None:
        await self.ensure_user(user_id, None)
        async with self._engine.begin() as conn:
            await conn.execute(
                users.update().where(users.c.user_id == user_id).values(platform_admin=value)
            )

    async def create_account(self, account_id: uuid.UUID, name: str, owner: str) -> bool:
        async with self._engine.begin() as conn:
            await conn.execute(insert(users).values(user_id=owner).on_conflict_do_nothing())
            made = await conn.execute(
                insert(accounts)
                .values(account_id=account_id, name=name)
                .on_conflict_do_nothing()
                .returning(accounts.c.account_id)
            )
            if made.first() is None:
                return False
            await conn.execute(
                memberships.insert().values(account_id=account_id, user_id=owner, role="owner")
            )
        return True

    async def mark_billing_opened(self, account_id: uuid.UUID) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                accounts.update()
                .where(accounts.c.account_id == account_id)
                .values(billing_opened=True)
            )

    async def account(self, account_id: uuid.UUID) -> dict[str, Any] | None:
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(accounts.select().where(accounts.c.account_id == account_id))
            ).first()
        return _row(row) if row else None

    async def role_of(self, account_id: uuid.UUID, user_id: str) -> Role | None:
        async with self._engine.connect() as conn:
            role = await conn.scalar(
                sa.select(memberships.c.role).where(
                    memberships.c.account_id == account_id, memberships.c.user_id == user_id
                )
            )
        return Role(role) if role else None

    async def accounts_of(self, user_id: str) -> list[dict[str, Any]]:
        query = (
            sa.select(accounts.c.account_id, accounts.c.name, memberships.c.role)
            .join(memberships, memberships.c.account_id == accounts.c.account_id)
            .where(memberships.c.user_id == user_id)
            .order_by(accounts.c.created_at, accounts.c.account_id)
        )
        async with self._engine.connect() as conn:
            return [_row(r) for r in await conn.execute(query)]

    async def members(self, account_id: uuid.UUID) -> list[dict[str, Any]]:
        query = (
            sa.select(memberships.c.user_id, memberships.c.role, memberships.c.created_at)
            .where(memberships.c.account_id == account_id)
            .order_by(memberships.c.created_at, memberships.c.user_id)
        )
        async with self._engine.connect() as conn:
            return [_row(r) for r in await conn.execute(query)]

    async def set_member(self, account_id: uuid.UUID, user_id: str, role: Role) -> None:
        stmt = insert(memberships).values(account_id=account_id, user_id=user_id, role=role.value)
        async with self._engine.begin() as conn:
            await conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=["account_id", "user_id"], set_={"role": role.value}
                )
            )

    async def remove_member(self, account_id: uuid.UUID, user_id: str) -> bool:
        async with self._engine.begin() as conn:
            done = await conn.execute(
                memberships.delete().where(
                    memberships.c.account_id == account_id, memberships.c.user_id == user_id
                )
            )
        return bool(done.rowcount)

    async def add_api_key(
        self,
        key_id: uuid.UUID,
        account_id: uuid.UUID,
        prefix: str,
        digest: str,
        name: str,
        scope: Scope,
        created_by: str | None,
    ) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                api_keys.insert().values(
                    key_id=key_id,
                    account_id=account_id,
                    prefix=prefix,
                    digest=digest,
                    name=name,
                    scope=scope.value,
                    created_by=created_by,
                )
            )

    async def api_key_by_prefix(self, prefix: str) -> StoredKey | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(api_keys.select().where(api_keys.c.prefix == prefix))).first()
        if row is None:
            return None
        return StoredKey(
            row.key_id, row.account_id, row.digest, Scope(row.scope), row.revoked_at is not None
        )

    async def touch_api_key(self, key_id: uuid.UUID, at: datetime) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                api_keys.update().where(api_keys.c.key_id == key_id).values(last_used_at=at)
            )

    async def api_keys(self, account_id: uuid.UUID) -> list[dict[str, Any]]:
        cols = [
            api_keys.c.key_id,
            api_keys.c.prefix,
            api_keys.c.name,
            api_keys.c.scope,
            api_keys.c.created_at,
            api_keys.c.last_used_at,
            api_keys.c.revoked_at,
        ]
        query = (
            sa.select(*cols)
            .where(api_keys.c.account_id == account_id)
            .order_by(api_keys.c.created_at, api_keys.c.key_id)
        )
        async with self._engine.connect() as conn:
            return [_row(r) for r in await conn.execute(query)]

    async def revoke_api_key(self, account_id: uuid.UUID, key_id: uuid.UUID) -> bool:
        async with self._engine.begin() as conn:
            done = await conn.execute(
                api_keys.update()
                .where(
                    api_keys.c.account_id == account_id,
                    api_keys.c.key_id == key_id,
                    api_keys.c.revoked_at.is_(None),
                )
                .values(revoked_at=sa.func.now())
            )
        return bool(done.rowcount)
