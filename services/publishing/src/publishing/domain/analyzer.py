"""The optimization analyzer (pure, no AI, no charge): a 0-100 score from named, weighted checks.

Each check reports pass / improve / fail and why, for the article's focus keyphrase. A check's
weight counts fully on pass, half on improve, nothing on fail. The thresholds follow the common
SEO plugins' published guidance (issue 10 §2; Yoast's documented checks, read, never copied).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

from publishing.domain.text import (
    HEADINGS,
    blocks,
    contains_phrase,
    count_phrase,
    flesch_reading_ease,
    parse_fragment,
    sentences,
    tokens,
    words,
)

Result = Literal["pass", "improve", "fail"]

#: check → weight (sums to 100)
WEIGHTS: dict[str, int] = {
    "keyphrase_in_title": 10,
    "keyphrase_in_introduction": 8,
    "keyphrase_in_slug": 5,
    "keyphrase_in_meta_description": 6,
    "keyphrase_in_subheadings": 6,
    "keyphrase_in_image_alt": 5,
    "keyphrase_density": 8,
    "meta_description_length": 6,
    "text_length": 8,
    "single_h1": 4,
    "subheading_distribution": 6,
    "paragraph_length": 5,
    "sentence_length": 5,
    "flesch_reading_ease": 6,
    "internal_links": 5,
    "outbound_links": 3,
    "no_keyphrase_anchor": 0,
}
WEIGHTS["no_keyphrase_anchor"] = 100 - sum(WEIGHTS.values())
CREDIT: dict[Result, float] = {"pass": 1.0, "improve": 0.5, "fail": 0.0}


@dataclass(frozen=True)
class ArticleInput:
    keyphrase: str
    title: str
    """The SEO title (meta title, else the title)."""
    slug: str
    meta_description: str
    html: str
    image_alts: tuple[str, ...] = ()
    """Alts of the images that travel beside the HTML (featured and inline images that the
    destination places); `<img>` already in the HTML are read from it."""
    site_host: str = ""
    target_words: int = 1200


@dataclass(frozen=True)
class Check:
    name: str
    weight: int
    result: Result
    why: str


@dataclass(frozen=True)
class Report:
    score: int
    checks: tuple[Check, ...] = field(default_factory=tuple)

    @property
    def failed(self) -> list[str]:
        return [c.name for c in self.checks if c.result == "fail"]

    def check(self, name: str) -> Check:
        return next(c for c in self.checks if c.name == name)


def analyze(article: ArticleInput) -> Report:
    root = parse_fragment(article.html)
    phrase = tokens(article.keyphrase)
    found = blocks(root)
    body = [b for b in found if b.tag not in HEADINGS]
    body_text = " ".join(b.text for b in body)
    body_words = words(body_text)
    sentence_lengths = [len(words(s)) for s in sentences(body_text)]
    results = [
        _title(phrase, article.title),
        _introduction(phrase, body),
        _in("keyphrase_in_slug", phrase, article.slug.replace("-", " "), "slug"),
        _in("keyphrase_in_meta_description", phrase, article.meta_description, "meta description"),
        _subheadings(phrase, root),
        _alts(phrase, root, article.image_alts),
        _density(phrase, [w.lower().replace("\u2019", "'") for w in body_words]),
        _meta_length(article.meta_description),
        _length(len(body_words), article.target_words),
        _single_h1(root),
        _distribution(found),
        _paragraphs(body),
        _sentence_length(sentence_lengths),
        _flesch(body_text, len(sentence_lengths)),
        *_links(root, article.site_host, phrase),
    ]
    checks = tuple(Check(name, WEIGHTS[name], result, why) for name, result, why in results)
    score = round(sum(c.weight * CREDIT[c.result] for c in checks))
    return Report(score=score, checks=checks)


Outcome = tuple[str, Result, str]


def _title(phrase: list[str], title: str) -> Outcome:
    name = "keyphrase_in_title"
    have = tokens(title)
    if not phrase:
        return name, "fail", "no focus keyphrase"
    if have[: len(phrase)] == phrase:
        return name, "pass", "the SEO title begins with the keyphrase"
    if contains_phrase(have, phrase):
        return name, "improve", "the keyphrase is in the SEO title; move it to the beginning"
    return name, "fail", "the SEO title does not contain the keyphrase"


def _introduction(phrase: list[str], body: list[Any]) -> Outcome:
    name = "keyphrase_in_introduction"
    first = next((b.text for b in body if b.tag == "p" and b.text), "")
    if not first:
        return name, "fail", "the article has no introduction paragraph"
    if contains_phrase(tokens(first), phrase):
        return name, "pass", "the first paragraph contains the keyphrase"
    return name, "fail", "the first paragraph does not contain the keyphrase"


def _in(name: str, phrase: list[str], text: str, where: str) -> Outcome:
    if phrase and contains_phrase(tokens(text), phrase):
        return name, "pass", f"the {where} contains the keyphrase"
    return name, "fail", f"the {where} does not contain the keyphrase"


def _subheadings(phrase: list[str], root: Any) -> Outcome:
    name = "keyphrase_in_subheadings"
    heads = [" ".join(str(h.text_content()).split()) for h in root.iter("h2", "h3")]
    if not heads:
        return name, "fail", "no H2/H3 subheadings"
    share = sum(1 for h in heads if contains_phrase(tokens(h), phrase)) / len(heads)
    pct = round(share * 100)
    if 0.3 <= share <= 0.75:
        return name, "pass", f"{pct}% of H2/H3 contain the keyphrase (30-75%)"
    if share == 0:
        return name, "fail", "no H2/H3 contains the keyphrase (aim for 30-75%)"
    return name, "improve", f"{pct}% of H2/H3 contain the keyphrase (aim for 30-75%)"


def _alts(phrase: list[str], root: Any, extra: tuple[str, ...]) -> Outcome:
    name = "keyphrase_in_image_alt"
    alts = [str(img.get("alt") or "") for img in root.iter("img")] + list(extra)
    if not alts:
        return name, "fail", "the article has no images"
    if any(contains_phrase(tokens(a), phrase) for a in alts):
        return name, "pass", "an image alt contains the keyphrase"
    if any(not a.strip() for a in alts):
        return name, "fail", "images without alt text, none with the keyphrase"
    return name, "improve", "no image alt contains the keyphrase"


def _density(phrase: list[str], lowered: list[str]) -> Outcome:
    name = "keyphrase_density"
    total = len(lowered)
    if total == 0 or not phrase:
        return name, "fail", "no text"
    density = count_phrase(lowered, phrase) / total * 100
    shown = f"{density:.2f}%"
    if 0.5 <= density <= 3.0:
        return name, "pass", f"keyphrase density {shown} (0.5-3%)"
    if density == 0:
        return name, "fail", "the keyphrase does not occur in the text"
    if density > 4.0:
        return name, "fail", f"keyphrase density {shown}: over 4% reads as stuffing"
    return name, "improve", f"keyphrase density {shown} (aim for 0.5-3%)"


def _meta_length(meta: str) -> Outcome:
    name = "meta_description_length"
    n = len(meta.strip())
    if n == 0:
        return name, "fail", "no meta description"
    if 120 <= n <= 156:
        return name, "pass", f"{n} characters (120-156)"
    return name, "improve", f"{n} characters (aim for 120-156)"


def _length(count: int, target: int) -> Outcome:
    name = "text_length"
    if count < 300:
        return name, "fail", f"{count} words: under the 300-word minimum"
    if count < 0.8 * target:
        return name, "improve", f"{count} words: below 80% of the site's target of {target}"
    return name, "pass", f"{count} words (target {target})"


def _single_h1(root: Any) -> Outcome:
    name = "single_h1"
    n = sum(1 for _ in root.iter("h1"))
    if n <= 1:
        return name, "pass", f"{n} H1 in the body (the title is the page's H1)"
    return name, "fail", f"{n} H1 headings: use one"


def _distribution(found: list[Any]) -> Outcome:
    name = "subheading_distribution"
    sections: list[int] = [0]
    saw_heading = False
    for block in found:
        if block.tag in HEADINGS:
            saw_heading = True
            sections.append(0)
        else:
            sections[-1] += len(words(block.text))
    longest = max(sections)
    if longest <= 300:
        return name, "pass", f"longest section {longest} words (≤ 300)"
    if not saw_heading:
        return name, "fail", f"{longest} words without a subheading"
    if longest > 350:
        return name, "fail", f"a section of {longest} words: add subheadings (≤ 300)"
    return name, "improve", f"a section of {longest} words (aim for ≤ 300)"


def _paragraphs(body: list[Any]) -> Outcome:
    name = "paragraph_length"
    lengths = [len(words(b.text)) for b in body if b.tag == "p"]
    longest = max(lengths, default=0)
    if longest <= 150:
        return name, "pass", f"longest paragraph {longest} words (≤ 150)"
    if longest > 200:
        return name, "fail", f"a paragraph of {longest} words (≤ 150)"
    return name, "improve", f"a paragraph of {longest} words (aim for ≤ 150)"


def _sentence_length(lengths: list[int]) -> Outcome:
    name = "sentence_length"
    if not lengths:
        return name, "fail", "no sentences"
    share = sum(1 for n in lengths if n > 20) / len(lengths)
    pct = round(share * 100)
    if share <= 0.25:
        return name, "pass", f"{pct}% of sentences over 20 words (≤ 25%)"
    if share <= 0.30:
        return name, "improve", f"{pct}% of sentences over 20 words (aim for ≤ 25%)"
    return name, "fail", f"{pct}% of sentences over 20 words (≤ 25%)"


def _flesch(text: str, sentence_count: int) -> Outcome:
    name = "flesch_reading_ease"
    ease = flesch_reading_ease(text, sentence_count)
    if ease is None:
        return name, "fail", "no text to read"
    shown = f"{ease:.1f}"
    if ease >= 60:
        return name, "pass", f"Flesch reading ease {shown} (≥ 60)"
    if ease >= 50:
        return name, "improve", f"Flesch reading ease {shown}: fairly difficult (aim for ≥ 60)"
    return name, "fail", f"Flesch reading ease {shown}: difficult (aim for ≥ 60)"


def _links(root: Any, site_host: str, phrase: list[str]) -> list[Outcome]:
    internal = outbound = 0
    own_anchor: list[str] = []
    host = site_host.lower().removeprefix("www.")
    for link in root.iter("a"):
        href = str(link.get("href") or "")
        target = urlsplit(href)
        if not href or href.startswith(("#", "mailto:", "tel:")):
            continue
        target_host = (target.hostname or "").lower().removeprefix("www.")
        if not target_host or (host and target_host == host):
            internal += 1
        else:
            outbound += 1
        anchor = str(link.text_content())
        if phrase and tokens(anchor) == phrase:
            own_anchor.append(anchor.strip())
    return [
        (
            "internal_links",
            "pass" if internal else "improve",
            f"{internal} internal link(s)" if internal else "no internal links",
        ),
        (
            "outbound_links",
            "pass" if outbound else "improve",
            f"{outbound} outbound link(s)" if outbound else "no outbound links",
        ),
        (
            "no_keyphrase_anchor",
            "fail" if own_anchor else "pass",
            f"a link is anchored on the article's own keyphrase ({own_anchor[0]!r})"
            if own_anchor
            else "no link is anchored on the article's own keyphrase",
        ),
    ]
