"""The run log's ports: what a run's driver writes and what any process reads of it.
`automation.ports` re-exports them."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Protocol


class RunLog(Protocol):
    def write(
        self, run_id: uuid.UUID, stage: int | None, kind: str, message: str, **fields: object
    ) -> None: ...

    async def flush(self, run_id: uuid.UUID | None = None) -> None:
        """Returns once every line written so far is stored — of one run (its driver, when it
        stops: other runs' lines are not waited for), or of every run (at shutdown)."""


class RunLogReader(Protocol):
    """What any process reads of a run's log, whichever process wrote it (the caller has checked
    that the run is the account's)."""

    def trace(self, run_id: uuid.UUID) -> AsyncIterator[bytes]:
        """NDJSON, one event a line, in the order written."""
        ...

    def lines(self, run_id: uuid.UUID, stage: int | None = None) -> AsyncIterator[bytes]:
        """Text lines: every line of the run, or one stage's."""
        ...
