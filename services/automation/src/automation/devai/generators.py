"""Deterministic, schema-valid answers: task-aware for the pipeline's schemas, generic otherwise.

Inputs are read from the `INPUT (JSON):` block that the prompt templates end with.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections import defaultdict
from typing import Any

STOPWORDS = {
    "a",
    "an",
    "and",
    "best",
    "for",
    "how",
    "in",
    "of",
    "on",
    "the",
    "to",
    "top",
    "what",
    "with",
    "your",
    "vs",
    "is",
    "are",
    "do",
    "does",
    "can",
    "near",
    "me",
    "my",
    "why",
}
WORDS = [
    "garden",
    "soil",
    "compost",
    "seeds",
    "water",
    "light",
    "season",
    "harvest",
    "roots",
    "planting",
    "guide",
    "tips",
    "tools",
    "balance",
    "growth",
    "method",
    "simple",
    "practical",
    "daily",
    "plan",
    "fresh",
    "layer",
    "choose",
    "care",
    "common",
    "mistakes",
    "budget",
    "quality",
    "steps",
    "results",
]


OPENERS = ("The complete guide to", "How to get started with", "Common mistakes with", "Ideas for")


def read_input(messages: list[dict[str, Any]]) -> dict[str, Any]:
    for message in reversed(messages):
        content = message.get("content")
        if isinstance(content, list):
            content = " ".join(part.get("text", "") for part in content if isinstance(part, dict))
        if isinstance(content, str) and "INPUT (JSON):" in content:
            try:
                return json.loads(content.split("INPUT (JSON):", 1)[1].strip())  # type: ignore[no-any-return]
            except json.JSONDecodeError:
                return {}
    return {}


def rng_for(messages: list[dict[str, Any]], schema_name: str) -> random.Random:
    digest = hashlib.sha256(json.dumps([schema_name, messages], sort_keys=True).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def sentence(rng: random.Random, words: int, topic: str = "") -> str:
    picked = [rng.choice(WORDS) for _ in range(words)]
    if topic:
        picked[rng.randrange(len(picked))] = topic
    text = " ".join(picked)
    return text[0].upper() + text[1:] + "."


def slugify(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:80] or "post"


def cluster_keywords(data: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    groups: dict[str, list[str]] = defaultdict(list)
    for keyword in data.get("keywords", []):
        tokens = [t for t in re.findall(r"[a-z0-9]+", str(keyword).lower()) if t not in STOPWORDS]
        head = max(tokens, key=len) if tokens else "general"
        groups[head].append(str(keyword))
    clusters = []
    for head, keywords in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        primary = min(keywords, key=len)
        clusters.append(
            {
                "name": head.title(),
                "description": f"Searches about {head}: {sentence(rng, 8)}",
                "primary_keyword": primary,
                "keywords": keywords,
            }
        )
    return {"clusters": clusters}


def content_ideas(data: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    cluster = data.get("cluster", {})
    name = str(cluster.get("name", "Topic"))
    keywords = [str(k) for k in cluster.get("keywords", [])] or [name.lower()]
    count = int(data.get("count", 2))
    ideas = []
    for n in range(count):
        keyword = keywords[n % len(keywords)]
        title = f"{OPENERS[n % len(OPENERS)]} {keyword}"
        ideas.append(
            {
                "title": title.capitalize(),
                "brief": sentence(rng, 18, keyword),
                "outline": [
                    f"What {keyword} means",
                    f"Choosing the right approach to {keyword}",
                    f"Step by step: {keyword}",
                    "Frequently asked questions",
                ],
                "target_keywords": keywords[n % len(keywords) :][:3] or [keyword],
                "content_type": "post",
                "structure": ["guide", "how_to", "listicle", "comparison"][n % 4],
            }
        )
    return {"ideas": ideas}


def article(data: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    idea = data.get("idea", {})
    title = str(idea.get("title", "Untitled"))
    words = int(data.get("target_words", 800))
    outline = [str(o) for o in idea.get("outline", [])] or ["Introduction", "Details", "Summary"]
    keywords = [str(k) for k in idea.get("target_keywords", [])] or [title.lower()]
    per_section = max(20, words // len(outline))
    html, produced = [f"<p>{sentence(rng, 25, keywords[0])}</p>"], 25
    for heading in outline:
        html.append(f"<h2>{heading}</h2>")
        remaining = per_section
        while remaining > 0:
            n = min(40, remaining)
            html.append(f"<p>{sentence(rng, n, rng.choice(keywords))}</p>")
            remaining -= n
            produced += n
    return {
        "title": title,
        "html": "\n".join(html),
        "meta_title": title[:60],
        "meta_description": sentence(rng, 20, keywords[0])[:155],
        "slug": slugify(title),
        "keywords": keywords,
        "word_count": produced,
    }


def image_prompts(data: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    title = str(data.get("title", "article"))
    count = int(data.get("inline_count", 2))
    return {
        "featured": {
            "prompt": f"Editorial photo for '{title}', natural light, {rng.choice(WORDS)} theme",
            "alt": f"Featured image for {title}",
        },
        "inline": [
            {
                "prompt": f"Illustration of {rng.choice(WORDS)} for section {n + 1} of '{title}'",
                "alt": f"Illustration {n + 1} for {title}",
            }
            for n in range(count)
        ],
    }


TASKS = {
    "keyword_clusters": cluster_keywords,
    "content_ideas": content_ideas,
    "article": article,
    "image_prompts": image_prompts,
}


def generic(schema: dict[str, Any], rng: random.Random, defs: dict[str, Any] | None = None) -> Any:
    defs = defs if defs is not None else schema.get("$defs", {})
    if "$ref" in schema:
        return generic(defs[schema["$ref"].rsplit("/", 1)[1]], rng, defs)
    for combinator in ("anyOf", "oneOf"):
        if combinator in schema:
            return generic(schema[combinator][0], rng, defs)
    if "enum" in schema:
        return rng.choice(schema["enum"])
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object":
        props = schema.get("properties", {})
        return {name: generic(sub, rng, defs) for name, sub in props.items()}
    if kind == "array":
        low = schema.get("minItems", 1)
        high = max(low, min(schema.get("maxItems", 3), low + 3))
        return [generic(schema.get("items", {}), rng, defs) for _ in range(rng.randint(low, high))]
    if kind == "integer":
        return rng.randint(schema.get("minimum", 0), schema.get("maximum", 100))
    if kind == "number":
        return round(rng.uniform(schema.get("minimum", 0), schema.get("maximum", 100)), 2)
    if kind == "boolean":
        return rng.random() < 0.5
    if kind == "null":
        return None
    text = sentence(rng, 6)
    return text[: schema.get("maxLength", len(text))]


def answer(
    schema_name: str, schema: dict[str, Any], messages: list[dict[str, Any]]
) -> dict[str, Any]:
    rng = rng_for(messages, schema_name)
    task = TASKS.get(schema_name)
    if task is not None:
        return task(read_input(messages), rng)
    return generic(schema, rng)  # type: ignore[no-any-return]
