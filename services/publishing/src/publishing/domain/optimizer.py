"""The AI optimizer's pure part (issue 10 §2): which failing checks it can fix, what it asks the
model for (a JSON schema), how the answer is applied to an article, and the diff it stores.

It rewrites only what the failing checks name — the SEO title, the meta description, the
introduction, the H2/H3 subheadings, the image alts — and never the body's other paragraphs,
lists, links or figures, so the article's facts stay as they were. The answer is plain text
(no markup): a model cannot inject HTML into the article through it."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any

from publishing.domain.linker import serialize
from publishing.domain.model import Article
from publishing.domain.text import parse_fragment

#: check → the part of the article the optimizer rewrites for it
FIXES: dict[str, str] = {
    "keyphrase_in_title": "seo_title",
    "keyphrase_in_meta_description": "meta_description",
    "meta_description_length": "meta_description",
    "keyphrase_in_introduction": "introduction",
    "keyphrase_density": "introduction",
    "keyphrase_in_subheadings": "subheadings",
    "subheading_distribution": "subheadings",
    "keyphrase_in_image_alt": "image_alts",
}
PARTS = ("seo_title", "meta_description", "introduction", "subheadings", "image_alts")
SCHEMA_NAME = "article_optimization"
PROMPT_VERSION = "optimize-v1"
#: Bounds of what an answer may be (the schema says them to the model; apply() enforces them).
MAX_TITLE = 120
MAX_META = 160
MAX_INTRO = 1500
MAX_HEADING = 150
MAX_ALT = 200


def to_fix(checks: list[dict[str, Any]]) -> list[str]:
    """The checks the optimizer can act on: those that did not pass."""
    return [c["name"] for c in checks if c.get("result") != "pass" and c["name"] in FIXES]


def parts_for(checks: list[str]) -> list[str]:
    wanted = {FIXES[c] for c in checks if c in FIXES}
    return [p for p in PARTS if p in wanted]


def schema() -> dict[str, Any]:
    """Strict structured output: every property required, nothing else allowed; an unchanged part
    comes back as it was (or empty)."""
    text = {"type": "string"}
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["seo_title", "meta_description", "introduction", "subheadings", "image_alts"],
        "properties": {
            "seo_title": {**text, "maxLength": MAX_TITLE},
            "meta_description": {**text, "maxLength": MAX_META},
            "introduction": {**text, "maxLength": MAX_INTRO},
            "subheadings": {"type": "array", "items": {**text, "maxLength": MAX_HEADING}},
            "image_alts": {"type": "array", "items": {**text, "maxLength": MAX_ALT}},
        },
    }


def _introduction(root: Any) -> Any | None:
    return next((p for p in root.iter("p") if (p.text_content() or "").strip()), None)


def current(article: Article) -> dict[str, Any]:
    """The parts as they are now (what the model sees and echoes when it changes nothing)."""
    root = parse_fragment(article.html)
    intro = _introduction(root)
    return {
        "seo_title": article.meta_title or article.title,
        "meta_description": article.meta_description,
        "introduction": " ".join((intro.text_content() if intro is not None else "").split()),
        "subheadings": [" ".join(h.text_content().split()) for h in root.iter("h2", "h3")],
        "image_alts": [i.alt for i in article.images],
    }


def messages(article: Article, checks: list[str], why: dict[str, str]) -> list[dict[str, str]]:
    parts = parts_for(checks)
    data = {
        "keyphrase": article.keyphrase,
        "title": article.title,
        "failing_checks": [{"name": c, "why": why.get(c, "")} for c in checks],
        "rewrite": parts,
        **current(article),
    }
    system = (
        "You improve an article's on-page SEO without changing its facts. Rewrite only the parts "
        "listed in `rewrite`, so that the failing checks pass: the SEO title begins with the "
        "keyphrase (at most 60 characters when possible); the meta description contains the "
        "keyphrase and is 120-156 characters; the introduction (plain text, one paragraph) "
        "contains the keyphrase and keeps every fact of the original; 30-75% of the subheadings "
        "contain the keyphrase (same count, same order); at least one image alt contains the "
        "keyphrase (same count, same order). Return every other part exactly as given. Plain "
        "text only, no HTML or Markdown."
    )
    return [
        {"role": "system", "content": system},
        {"role": "user", "content": "INPUT (JSON):\n" + json.dumps(data, ensure_ascii=False)},
    ]


@dataclass(frozen=True)
class Change:
    part: str
    before: Any
    after: Any


def apply(
    article: Article, answer: dict[str, Any], checks: list[str]
) -> tuple[Article, list[Change]]:
    """A copy of the article with the parts the checks name replaced by the answer's (blank,
    over-long or miscounted answers leave a part as it was), and what changed."""
    parts = set(parts_for(checks))
    before = current(article)
    changes: list[Change] = []
    html = article.html
    root = parse_fragment(article.html)
    meta_title, meta = article.meta_title, article.meta_description
    images = list(article.images)

    def take(part: str, limit: int) -> str | None:
        value = " ".join(str(answer.get(part) or "").split())
        if part in parts and value and len(value) <= limit and value != before[part]:
            return value
        return None

    if (title := take("seo_title", MAX_TITLE)) is not None:
        meta_title = title
        changes.append(Change("seo_title", before["seo_title"], title))
    if (description := take("meta_description", MAX_META)) is not None:
        meta = description
        changes.append(Change("meta_description", before["meta_description"], description))
    intro = _introduction(root)
    if intro is not None and (text := take("introduction", MAX_INTRO)) is not None:
        for child in list(intro):
            intro.remove(child)
        intro.text = text
        changes.append(Change("introduction", before["introduction"], text))
    heads = list(root.iter("h2", "h3"))
    proposed = [" ".join(str(h).split()) for h in answer.get("subheadings") or []]
    if "subheadings" in parts and len(proposed) == len(heads):
        for head, old, new in zip(heads, before["subheadings"], proposed, strict=True):
            if new and new != old and len(new) <= MAX_HEADING:
                for child in list(head):
                    head.remove(child)
                head.text = new
                changes.append(Change("subheading", old, new))
    alts = [" ".join(str(a).split()) for a in answer.get("image_alts") or []]
    if "image_alts" in parts and len(alts) == len(images):
        for n, (image, alt) in enumerate(zip(images, alts, strict=True)):
            if alt and alt != image.alt and len(alt) <= MAX_ALT:
                images[n] = replace(image, alt=alt)
                changes.append(Change("image_alt", image.alt, alt))
    if any(c.part in ("introduction", "subheading") for c in changes):
        html = serialize(root)
    optimized = replace(
        article,
        html=html,
        meta_title=meta_title,
        meta_description=meta,
        images=images,
        keywords=list(article.keywords),
        report=dict(article.report),
    )
    return optimized, changes
