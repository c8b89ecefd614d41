from __future__ import annotations

import uuid
from dataclasses import dataclass
from types import TracebackType
from typing import Any, ClassVar, Self

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker


@dataclass(frozen=True)
class MessageContext:
    """Whom the messages emitted in a unit answer (envelope causation and correlation)."""

    causation_id: str | None = None
    correlation_id: str | None = None

    @classmethod
    def of(cls, envelope: Any) -> MessageContext:
        """The context of messages emitted while handling `envelope` (an igny8 Envelope): a
        batch handler makes one per message, so each emitted row answers its own message."""
        return cls(str(envelope.id), envelope.correlation_id)


class SqlAlchemyUnitOfWork:
    """Commits only when told; rolls back on leaving otherwise (cosmicpython).

    Either opens its own session, or joins one handed in by the messaging consumer (whose
    transaction also records the inbox row) — then commit is left to the owner of the session.

    `emit` queues a message in the outbox, in this transaction: the one way every service sends.
    A service names itself in `source`; `correlation_id` / `causation_id` (set per unit, e.g. from
    the message being handled) travel in the envelope, and a payload's `run_id` is the
    correlation id when none is set.

    A service's unit names its repositories in `_bind`, called with the unit's session as soon as
    there is one (at once when joining a session, else on entering).
    """

    source: ClassVar[str] = ""
    correlation_id: str | None = None
    causation_id: str | None = None

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession] | None = None,
        session: AsyncSession | None = None,
        context: MessageContext | None = None,
    ) -> None:
        if context is not None:
            self.causation_id = context.causation_id
            self.correlation_id = context.correlation_id
        if (sessions is None) == (session is None):
            raise ValueError("pass either a session factory or an open session")
        self._sessions = sessions
        self._joined = session is not None
        self.session: AsyncSession = session if session is not None else None  # type: ignore[assignment]
        if session is not None:
            self._bind(session)

    def _bind(self, session: AsyncSession) -> None:
        """Creates the unit's repositories over `session` (none here)."""

    async def __aenter__(self) -> Self:
        if not self._joined:
            assert self._sessions is not None
            self.session = self._sessions()
            self._bind(self.session)
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

    async def emit(
        self,
        topic: str,
        payload: BaseModel,
        account_id: uuid.UUID | None = None,
        site_id: uuid.UUID | None = None,
    ) -> None:
        # imported here: igny8.messaging imports igny8.db, not the other way round at load time
        from igny8.contracts import TOPICS
        from igny8.messaging.outbox import OutboxWriter

        run_id: Any = getattr(payload, "run_id", None)
        envelope = TOPICS.envelope(
            topic,
            payload,
            source=self.source or "unknown",
            account_id=account_id,
            site_id=site_id,
            causation_id=self.causation_id,
            correlation_id=self.correlation_id or (str(run_id) if run_id else None),
        )
        await OutboxWriter(TOPICS).add(self.session, envelope)
