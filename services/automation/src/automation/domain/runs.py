"""Automation runs: states, stages, estimates and the cost ceiling of one item (DESIGN §4-§5)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from automation.domain.config import AutomationConfig

LIVE = ("reserving", "running", "paused")
ENDED = ("completed", "cancelled", "failed", "rejected")
STAGES = {
    1: "keywords → clusters",
    2: "clusters → ideas",
    3: "ideas → tasks",
    4: "tasks → content",
    5: "content → image prompts",
    6: "image prompts → images",
}
OPERATION = {
    1: "clustering",
    2: "idea_generation",
    4: "content_generation",
    5: "image_prompt_extraction",
    6: "image_generation",
}
KEYWORDS_PER_CLUSTER_GUESS = 5


class LeaseLost(Exception):
    """Another worker took the run over; a stale worker must stop writing."""


@dataclass(frozen=True)
class Price:
    unit: str
    credits_per_unit: int
    minimum_credits: int

    def credits_for(self, quantity: int) -> int:
        if quantity <= 0:
            return 0
        size = {"per_100_words": 100, "per_200_words": 200}.get(self.unit, 1)
        return max(self.minimum_credits, math.ceil(quantity / size) * self.credits_per_unit)


def item_quantity_ceiling(stage: int, config: AutomationConfig) -> int:
    """The most one item of a stage can be charged for, in the operation's natural measure."""
    if stage == 2:
        return config.ideas_per_cluster
    if stage == 4:
        return math.ceil(config.target_word_count * config.word_limit_factor)
    return 1


def estimate(
    counts: dict[str, int],
    config: AutomationConfig,
    stages: list[int],
    target: dict[str, str] | None = None,
) -> dict[str, int]:
    """Quantities per operation for the work in sight, with the configured buffer, rounded up."""
    if target is not None:  # regenerating one article: its own ceiling only
        return {
            "content_generation": math.ceil(
                item_quantity_ceiling(4, config) * (1 + config.estimate_buffer)
            )
        }

    def cap(stage: int, n: int) -> int:
        limit = config.max_items_per_stage.get(stage)
        return min(n, limit) if limit is not None else n

    new_keywords = cap(1, counts.get("keywords", 0)) if 1 in stages else 0
    requests = math.ceil(new_keywords / config.batch(1)) if new_keywords else 0
    clusters = cap(
        2, counts.get("clusters", 0) + math.ceil(new_keywords / KEYWORDS_PER_CLUSTER_GUESS)
    )
    ideas = clusters * config.ideas_per_cluster if 2 in stages else 0
    tasks = cap(4, counts.get("tasks", 0) + counts.get("ideas", 0) + (ideas if 3 in stages else 0))
    articles = tasks if 4 in stages else 0
    words = articles * item_quantity_ceiling(4, config)
    prompt_items = cap(5, counts.get("contents", 0) + articles) if 5 in stages else 0
    pictures = (
        cap(6, counts.get("prompts", 0) + prompt_items * config.images_per_article)
        if 6 in stages
        else 0
    )
    buffer = 1 + config.estimate_buffer
    raw = {
        "clustering": requests if 1 in stages else 0,
        "idea_generation": ideas,
        "content_generation": words,
        "image_prompt_extraction": prompt_items,
        "image_generation": pictures,
    }
    return {op: math.ceil(q * buffer) for op, q in raw.items() if q > 0}
