from __future__ import annotations

from types import TracebackType
from typing import Self

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker


class SqlAlchemyUnitOfWork:
    """Commits only when told; rolls back on leaving otherwise (cosmicpython).

    Either opens its own session, or joins one handed in by the messaging consumer (whose
    transaction also records the inbox row) — then commit is left to the owner of the session.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession] | None = None,
        session: AsyncSession | None = None,
    ) -> None:
        if (sessions is None) == (session is None):
            raise ValueError("pass either a session factory or an open session")
        self._sessions = sessions
        self._joined = session is not None
        self.session: AsyncSession = session if session is not None else None  # type: ignore[assignment]

    async def __aenter__(self) -> Self:
        if not self._joined:
            assert self._sessions is not None
            self.session = self._sessions()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._joined:
            if exc is not None:
                await self.session.rollback()
            return
        try:
            await self.session.rollback()
        finally:
            await self.session.close()

    async def commit(self) -> None:
        if self._joined:
            await self.session.flush()
        else:
            await self.session.commit()

    async def rollback(self) -> None:
        await self.session.rollback()
