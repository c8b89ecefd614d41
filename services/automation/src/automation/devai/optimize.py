"""The development answer to publishing's optimizer (`article_optimization`): the parts named in
`rewrite` reworked so the SEO checks pass — the SEO title begins with the keyphrase, the meta
description holds it at 120-156 characters, the introduction gains a sentence with it (the
original text kept whole), about half of the subheadings and the first image alt name it. Parts
not named come back as given, as a model is told to do."""

from __future__ import annotations

import math
import random
from typing import Any

from automation.devai.text import title_case, tokens


def _has(text: str, phrase: str) -> bool:
    want, have = tokens(phrase), tokens(text)
    return bool(want) and any(have[i : i + len(want)] == want for i in range(len(have)))


def _title(keyphrase: str, title: str) -> str:
    rest = title
    if _has(title, keyphrase):
        rest = " ".join(
            w for w in title.split() if w.lower().strip(":,.") not in keyphrase.lower().split()
        )
    out = f"{title_case(keyphrase)}: {rest}".strip(": ")
    return out[:110]


def _meta(keyphrase: str) -> str:
    """120-156 characters with the keyphrase: a sentence, padded, cut at a word."""
    text = f"{keyphrase[:1].upper()}{keyphrase[1:]}: what it is, how to start and what to avoid."
    while len(text) < 120:
        text += " Clear steps, honest costs and tips that work."
    while len(text) > 156:
        text = text.rsplit(" ", 1)[0]
    return text


def optimize_article(data: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    keyphrase = str(data.get("keyphrase") or "").strip()
    rewrite = set(data.get("rewrite") or [])
    heads = [str(h) for h in data.get("subheadings") or []]
    alts = [str(a) for a in data.get("image_alts") or []]
    out: dict[str, Any] = {
        "seo_title": str(data.get("seo_title") or ""),
        "meta_description": str(data.get("meta_description") or ""),
        "introduction": str(data.get("introduction") or ""),
        "subheadings": heads,
        "image_alts": alts,
    }
    if not keyphrase:
        return out
    if "seo_title" in rewrite:
        out["seo_title"] = _title(keyphrase, str(data.get("title") or out["seo_title"]))
    if "meta_description" in rewrite:
        out["meta_description"] = _meta(keyphrase)
    if "introduction" in rewrite and not _has(out["introduction"], keyphrase):
        lead = f"This guide to {keyphrase} covers what matters most."
        out["introduction"] = f"{lead} {out['introduction']}".strip()[:1500]
    if "subheadings" in rewrite and heads:
        target = max(1, math.ceil(len(heads) / 2))
        have = sum(1 for h in heads if _has(h, keyphrase))
        for n, head in enumerate(heads):
            if have >= target:
                break
            if not _has(head, keyphrase):
                heads[n] = f"{head}: {keyphrase}"[:150]
                have += 1
    if "image_alts" in rewrite and alts and not any(_has(a, keyphrase) for a in alts):
        alts[0] = f"{keyphrase}: {alts[0]}".strip(": ")[:200]
    return out
