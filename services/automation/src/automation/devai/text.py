"""Word-level helpers shared by the development server's generators: tokens, stems, modifiers.

A search keyword is a topic ("compost bin") wrapped in modifiers that say what the searcher wants
("best", "for beginners", "how to choose"). Grouping and writing both need the topic alone.
"""

from __future__ import annotations

import re

STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "can",
        "do",
        "does",
        "for",
        "from",
        "how",
        "i",
        "in",
        "is",
        "it",
        "me",
        "my",
        "of",
        "on",
        "or",
        "the",
        "to",
        "vs",
        "versus",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "will",
        "with",
        "without",
        "you",
        "your",
    ]
)
"""Function words: never a topic on their own."""

MODIFIERS = frozenset(
    [
        "best",
        "top",
        "cheap",
        "cheapest",
        "affordable",
        "budget",
        "buy",
        "price",
        "prices",
        "cost",
        "costs",
        "review",
        "reviews",
        "guide",
        "guides",
        "tips",
        "tricks",
        "ideas",
        "mistakes",
        "beginners",
        "beginner",
        "alternatives",
        "alternative",
        "choose",
        "choosing",
        "pick",
        "use",
        "using",
        "checklist",
        "benefits",
        "problems",
        "examples",
        "explained",
        "near",
        "easy",
        "simple",
        "quick",
        "ultimate",
        "complete",
        "free",
        "online",
        "2024",
        "2025",
        "2026",
        "diy",
        "vs",
    ]
)
"""Intent words: what the searcher wants to know about a topic, never the topic itself."""

_TOKEN = re.compile(r"[a-z0-9]+")


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


def stem(word: str) -> str:
    """A small suffix stripper, enough for "composting"/"compost", "beds"/"bed", "grinder"/"grind".

    Stems are only compared with each other, never shown, so over-stripping is harmless as long as
    it is consistent ("shoes" and "shoe" both become "sho").
    """
    w = word.lower()
    if len(w) <= 3:
        return w
    if w.endswith("ies") and len(w) > 4:
        w = w[:-3] + "y"
    elif w.endswith("sses"):
        w = w[:-2]
    elif w.endswith("s") and not w.endswith(("ss", "us", "is")):
        w = w[:-1]
    for suffix in ("ing", "ed", "er"):
        if w.endswith(suffix) and len(w) - len(suffix) >= 4:
            w = w[: -len(suffix)]
            if len(w) >= 4 and w[-1] == w[-2] and w[-1] not in "lsz":
                w = w[:-1]  # "running" -> "runn" -> "run"
            break
    if w.endswith("oe"):
        w = w[:-1]  # "tomatoes" -> "tomatoe" -> "tomato"
    return w


def topic_words(keyword: str) -> list[str]:
    """The keyword's topic, in its own words: "how to choose compost bin" -> ["compost", "bin"]."""
    words = [t for t in tokens(keyword) if t not in STOPWORDS]
    topical = [t for t in words if t not in MODIFIERS]
    return topical or words or tokens(keyword)


def topic_phrase(keyword: str) -> str:
    return " ".join(topic_words(keyword))


def slugify(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:80].strip("-") or "post"


def title_case(text: str) -> str:
    small = {"a", "an", "and", "for", "in", "of", "on", "or", "the", "to", "vs", "with"}
    words = text.split()
    return " ".join(
        w if (i and w.lower() in small) else (w[:1].upper() + w[1:]) for i, w in enumerate(words)
    )


def count_words(text: str) -> int:
    return len(text.split())
