"""What every step of a run needs to know about it, frozen: replaces the (run, token, config)
triple that used to travel through every signature."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from automation.domain.config import AutomationConfig
from automation.domain.runs import Run


@dataclass(frozen=True)
class RunContext:
    run_id: uuid.UUID
    account_id: uuid.UUID
    site_id: uuid.UUID
    token: int
    """The fencing token of the lease this worker holds (or the command it handles carries)."""
    stages: tuple[int, ...]
    config: AutomationConfig
    target: Mapping[str, str] | None = None
    """A regeneration: {"content_id": …, "task_id": …}."""

    @classmethod
    def of(cls, run: Run, token: int) -> RunContext:
        return cls(
            run_id=run.run_id,
            account_id=run.account_id,
            site_id=run.site_id,
            token=token,
            stages=run.stages,
            config=AutomationConfig.model_validate(run.config),
            target=run.target,
        )


class Stop(Exception):
    """The run left this worker's hands (paused, ended, cancelled): stop driving it."""

    def __init__(self, outcome: str) -> None:
        self.outcome = outcome
        super().__init__(outcome)
