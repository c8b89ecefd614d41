"""What every automation repository shares: its session and rows as plain dicts."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession


def row_dict(row: Any) -> dict[str, Any]:
    return dict(row._mapping) if row is not None else {}


class SessionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def _one(self, query: Any) -> dict[str, Any] | None:
        row = (await self.session.execute(query)).first()
        return row_dict(row) if row is not None else None

    async def _all(self, query: Any) -> list[dict[str, Any]]:
        return [row_dict(r) for r in await self.session.execute(query)]
