"""One module per stage; each runs its stage's items and returns their outcomes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from automation.app.run_context import RunContext
from automation.app.stages import clusters, content, ideas, images, prompts, tasks

if TYPE_CHECKING:
    from automation.app.run_engine import RunEngine

StageRunner = Callable[["RunEngine", RunContext, int], Awaitable[list[str]]]

STAGE_RUNNERS: dict[int, StageRunner] = {
    1: clusters.run,
    2: ideas.run,
    3: tasks.run,
    4: content.run,
    5: prompts.run,
    6: images.run,
}
