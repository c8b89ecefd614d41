"""Versioned prompt templates shipped in `automation/prompts/<function>.v<N>.md`."""

from __future__ import annotations

import re
from collections.abc import Mapping
from importlib import resources
from string import Formatter
from typing import Any

from automation.domain.ai import AIFunction


class _Lenient(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return ""


class PromptTemplates:
    """The newest version of each function's template, unless a version is pinned."""

    def __init__(self, pinned: dict[str, int] | None = None) -> None:
        folder = resources.files("automation") / "prompts"
        found: dict[str, dict[int, str]] = {}
        for entry in folder.iterdir():
            match = re.fullmatch(r"(\w+)\.v(\d+)\.md", entry.name)
            if match:
                found.setdefault(match[1], {})[int(match[2])] = entry.read_text(encoding="utf-8")
        self._templates = found
        self._pinned = pinned or {}

    def render(self, function: AIFunction, variables: Mapping[str, object]) -> tuple[str, str]:
        """The prompt text and its version label (`cluster_keywords.v1`)."""
        versions = self._templates.get(function.value)
        if not versions:
            raise KeyError(f"no prompt template for {function.value}")
        version = self._pinned.get(function.value, max(versions))
        text = Formatter().vformat(versions[version], (), _Lenient(variables))
        return text.strip(), f"{function.value}.v{version}"
