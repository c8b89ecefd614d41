"""What the development server answered: calls per function and prompt, readable over HTTP.

Tests use it to assert that work is not paid for twice — a resumed or taken-over run that redid
finished items would call the provider again for the same prompt. A call counts as answered when
the server returned a usable answer; injected failures (rate limits, 5xx, quota, refusals,
truncation, bad JSON, timeouts) are counted apart, per function and mode.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any


def prompt_key(payload: Any) -> str:
    canonical = json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


@dataclass
class CallStats:
    answered: Counter[tuple[str, str]] = field(default_factory=Counter)
    inputs: dict[tuple[str, str], Any] = field(default_factory=dict)
    faults: Counter[tuple[str, str]] = field(default_factory=Counter)

    def record(self, function: str, prompt: str, shown: Any) -> None:
        self.answered[(function, prompt)] += 1
        self.inputs.setdefault((function, prompt), shown)

    def record_fault(self, function: str, mode: str) -> None:
        self.faults[(function, mode)] += 1

    def reset(self) -> None:
        self.answered.clear()
        self.inputs.clear()
        self.faults.clear()

    def snapshot(self, function: str | None = None) -> dict[str, Any]:
        by_function: Counter[str] = Counter()
        for (name, _), count in self.answered.items():
            by_function[name] += count
        faults: dict[str, dict[str, int]] = {}
        for (name, mode), count in sorted(self.faults.items()):
            faults.setdefault(name, {})[mode] = count
        calls = [
            {
                "function": name,
                "prompt": prompt,
                "count": count,
                "input": self.inputs[(name, prompt)],
            }
            for (name, prompt), count in sorted(self.answered.items())
            if function is None or name == function
        ]
        return {
            "total": sum(c["count"] for c in calls),
            "by_function": dict(sorted(by_function.items())),
            "repeated": sum(1 for c in calls if c["count"] > 1),
            "faults": faults,
            "calls": calls,
        }
