"""What the AI found, as the pipeline stores it: clusters, ideas, an article, image prompts.

The AI engine checks every answer against the function's strict JSON schema (`domain.ai.SCHEMAS`);
these parsers turn that JSON into frozen values once, so nothing past the stage reads raw JSON. An
answer that passed the schema but still cannot be read is the provider's fault: AISchemaViolation
(an AI failure: recorded, not charged, the item tried again by a later run)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from automation.domain.ai import AISchemaViolation

T = TypeVar("T")


def _read(function: str, data: Mapping[str, Any], parse: Callable[[Mapping[str, Any]], T]) -> T:
    try:
        return parse(data)
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise AISchemaViolation(f"{function}: unreadable answer ({error!r})"[:300]) from None


def _texts(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise TypeError("expected a list of strings")
    return tuple(str(v) for v in value)


@dataclass(frozen=True)
class FoundCluster:
    name: str
    description: str
    primary_keyword: str
    keywords: tuple[str, ...]


def clusters_of(data: Mapping[str, Any]) -> tuple[FoundCluster, ...]:
    return _read(
        "cluster_keywords",
        data,
        lambda d: tuple(
            FoundCluster(
                name=str(c["name"]),
                description=str(c["description"]),
                primary_keyword=str(c["primary_keyword"]),
                keywords=_texts(c["keywords"]),
            )
            for c in d["clusters"]
        ),
    )


@dataclass(frozen=True)
class FoundIdea:
    title: str
    brief: str
    outline: tuple[str, ...]
    target_keywords: tuple[str, ...]
    content_type: str
    structure: str


def ideas_of(data: Mapping[str, Any], most: int) -> tuple[FoundIdea, ...]:
    """At most `most` ideas (the model may offer more than asked)."""
    return _read(
        "generate_ideas",
        data,
        lambda d: tuple(
            FoundIdea(
                title=str(i["title"]),
                brief=str(i["brief"]),
                outline=_texts(i["outline"]),
                target_keywords=_texts(i["target_keywords"]),
                content_type=str(i["content_type"]),
                structure=str(i["structure"]),
            )
            for i in d["ideas"][:most]
        ),
    )


@dataclass(frozen=True)
class Article:
    """An article as written (stage 4): what the `contents` row stores of it."""

    title: str
    html: str
    meta_title: str
    meta_description: str
    slug: str
    keywords: tuple[str, ...]


def article_of(data: Mapping[str, Any]) -> Article:
    return _read(
        "generate_content",
        data,
        lambda d: Article(
            title=str(d["title"]),
            html=str(d["html"]),
            meta_title=str(d["meta_title"]),
            meta_description=str(d["meta_description"]),
            slug=str(d["slug"]),
            keywords=_texts(d["keywords"]),
        ),
    )


@dataclass(frozen=True)
class FoundPrompt:
    prompt: str
    alt: str


@dataclass(frozen=True)
class FoundPrompts:
    """Stage 5's answer: the featured image's prompt and the inline ones, in reading order."""

    featured: FoundPrompt
    inline: tuple[FoundPrompt, ...]


def prompts_of(data: Mapping[str, Any]) -> FoundPrompts:
    def prompt(p: Mapping[str, Any]) -> FoundPrompt:
        return FoundPrompt(prompt=str(p["prompt"]), alt=str(p["alt"]))

    return _read(
        "generate_image_prompts",
        data,
        lambda d: FoundPrompts(
            featured=prompt(d["featured"]), inline=tuple(prompt(p) for p in d["inline"])
        ),
    )
