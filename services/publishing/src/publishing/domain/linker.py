"""Internal linking (issue 10 §3): relevance by TF-IDF, injection under caps, undo by id.

Injection works on the lxml tree of the article's canonical HTML (`canonical`: parsed and
serialized once), so removing an injected `<a>` and merging its text back gives the very same
bytes as before the injection: undo restores the exact HTML.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

import lxml.html
from sklearn.feature_extraction.text import TfidfVectorizer  # imported once, at start-up

from publishing.domain.text import HEADINGS, parse_fragment, sentences, tokens, words

LINK_ATTR = "data-igny8-link"
FORBIDDEN_ANCESTORS = frozenset({"a", "figcaption", "figure", "code", "pre", "button", *HEADINGS})


@dataclass(frozen=True)
class Candidate:
    target_ref: str
    """`publication:<content_id>` or `inventory:<item_id>`."""
    url: str
    title: str
    keyphrase: str = ""
    text: str = ""


@dataclass(frozen=True)
class Injected:
    link_id: uuid.UUID
    target_ref: str
    url: str
    anchor: str
    block: int
    """Index of the paragraph / list item among the article's eligible blocks."""
    offset: int
    """Character offset of the anchor in that block's text."""
    similarity: float


def canonical(html: str) -> str:
    return serialize(parse_fragment(html))


def serialize(root: Any) -> str:
    head = escape(root.text or "", quote=False)
    return head + "".join(lxml.html.tostring(child, encoding="unicode") for child in root)


def rank(
    source_text: str, candidates: Sequence[Candidate], min_similarity: float
) -> list[tuple[Candidate, float]]:
    """Candidates at least `min_similarity` (cosine of TF-IDF vectors) to the source, best first."""
    if not candidates or not words(source_text):
        return []
    documents = [source_text] + [
        f"{c.title} {c.keyphrase} {c.keyphrase} {c.text}" for c in candidates
    ]
    try:
        matrix = TfidfVectorizer(stop_words="english", sublinear_tf=True).fit_transform(documents)
    except ValueError:  # nothing but stop words
        return []
    similarities = (matrix[1:] @ matrix[0].T).toarray().ravel()
    scored = [
        (candidate, float(similarity))
        for candidate, similarity in zip(candidates, similarities, strict=True)
        if similarity >= min_similarity
    ]
    return sorted(scored, key=lambda pair: -pair[1])


def rank_many(
    source_texts: Sequence[str], candidates: Sequence[Candidate], min_similarity: float
) -> list[list[tuple[Candidate, float]]]:
    """`rank` for several sources at once over one TF-IDF fit (sources and candidates together,
    so a single source ranks exactly as `rank` does): one list per source, best first."""
    if not source_texts:
        return []
    if not candidates:
        return [[] for _ in source_texts]
    documents = list(source_texts) + [
        f"{c.title} {c.keyphrase} {c.keyphrase} {c.text}" for c in candidates
    ]
    try:
        matrix = TfidfVectorizer(stop_words="english", sublinear_tf=True).fit_transform(documents)
    except ValueError:  # nothing but stop words
        return [[] for _ in source_texts]
    k = len(source_texts)
    table = (matrix[k:] @ matrix[:k].T).toarray()  # one row per candidate, one column per source
    ranked: list[list[tuple[Candidate, float]]] = []
    for column, text in enumerate(source_texts):
        if not words(text):
            ranked.append([])
            continue
        scored = [
            (candidate, float(similarity))
            for candidate, similarity in zip(candidates, table[:, column], strict=True)
            if similarity >= min_similarity
        ]
        ranked.append(sorted(scored, key=lambda pair: -pair[1]))
    return ranked


def anchor_options(candidate: Candidate) -> list[str]:
    """The target's keyphrase first, then phrases of its title (longest first)."""
    options = [candidate.keyphrase] if candidate.keyphrase.strip() else []
    title_words = words(candidate.title)
    for size in range(min(len(title_words), 6), 1, -1):
        for start in range(len(title_words) - size + 1):
            options.append(" ".join(title_words[start : start + size]))
    return options


def link_cap(word_count: int, per_1000: float, max_links: int) -> int:
    if word_count == 0 or per_1000 <= 0:
        return 0
    return min(max_links, max(1, int(word_count * per_1000 / 1000)))


def inject(
    html: str,
    ranked: Sequence[tuple[Candidate, float]],
    own_keyphrase: str,
    per_1000: float,
    max_links: int,
    new_id: Callable[[], uuid.UUID] = uuid.uuid4,
) -> tuple[str, list[Injected]]:
    """Inject links into paragraphs and list items only; returns the new HTML and the links."""
    root = parse_fragment(html)
    blocks = _eligible_blocks(root)
    total_words = len(words(" ".join(str(b.text_content()) for b in root.iter("p", "li"))))
    cap = link_cap(total_words, per_1000, max_links)
    linked_urls = {str(a.get("href") or "") for a in root.iter("a")}
    own = tokens(own_keyphrase)
    used_anchors: set[tuple[str, ...]] = set()
    first_sentence = _first_sentence_length(blocks)
    injected: list[Injected] = []
    for candidate, similarity in ranked:
        if len(injected) >= cap:
            break
        if candidate.url in linked_urls:  # each target at most once
            continue
        placed = _place(candidate, blocks, own, used_anchors, first_sentence, new_id)
        if placed is None:
            continue
        link_id, anchor, block, offset = placed
        linked_urls.add(candidate.url)
        used_anchors.add(tuple(tokens(anchor)))
        injected.append(
            Injected(
                link_id, candidate.target_ref, candidate.url, anchor, block, offset, similarity
            )
        )
    return serialize(root), injected


def undo(html: str, link_id: uuid.UUID) -> str | None:
    """The HTML without that injected link (its text merged back), or None when it is absent."""
    root = parse_fragment(html)
    for link in root.iter("a"):
        if link.get(LINK_ATTR) == str(link_id):
            _unwrap(link)
            return serialize(root)
    return None


def _unwrap(link: Any) -> None:
    parent = link.getparent()
    text = (link.text or "") + (link.tail or "")
    previous = link.getprevious()
    if previous is not None:
        previous.tail = (previous.tail or "") + text
    else:
        parent.text = (parent.text or "") + text
    parent.remove(link)


def _eligible_blocks(root: Any) -> list[Any]:
    found = []
    for element in root.iter("p", "li"):
        if any(parent.tag in FORBIDDEN_ANCESTORS for parent in element.iterancestors()):
            continue
        found.append(element)
    return found


def _first_sentence_length(blocks: list[Any]) -> int:
    for block in blocks:
        if block.tag != "p":
            continue
        text = str(block.text_content())
        found = sentences(text)
        if found:
            return text.find(found[0]) + len(found[0])
    return 0


def _segments(block: Any) -> list[tuple[Any, str, int]]:
    """(owner, 'text'|'tail', offset in the block's text) of the block's own text runs."""
    runs: list[tuple[Any, str, int]] = [(block, "text", 0)]
    offset = len(block.text or "")
    for child in block:
        offset += len(str(child.text_content())) if isinstance(child.tag, str) else 0
        runs.append((child, "tail", offset))
        offset += len(child.tail or "")
    return runs


def _place(
    candidate: Candidate,
    blocks: list[Any],
    own: list[str],
    used: set[tuple[str, ...]],
    first_sentence: int,
    new_id: Callable[[], uuid.UUID],
) -> tuple[uuid.UUID, str, int, int] | None:
    first_p = next((i for i, b in enumerate(blocks) if b.tag == "p"), None)
    for option in anchor_options(candidate):
        option_tokens = tuple(tokens(option))
        if not option_tokens or option_tokens in used:
            continue
        if own and _contains(list(option_tokens), own):  # never the source's own keyphrase
            continue
        pattern = re.compile(
            r"(?<![\w])" + r"\s+".join(re.escape(w) for w in words(option)) + r"(?![\w])",
            re.IGNORECASE,
        )
        for index, block in enumerate(blocks):
            for owner, slot, start in _segments(block):
                text = getattr(owner, slot) or ""
                for match in pattern.finditer(text):
                    if index == first_p and start + match.start() < first_sentence:
                        continue
                    link_id = new_id()
                    _wrap(block, owner, slot, match, candidate.url, link_id)
                    return link_id, match.group(0), index, start + match.start()
    return None


def _contains(haystack: list[str], needle: list[str]) -> bool:
    n = len(needle)
    return any(haystack[i : i + n] == needle for i in range(len(haystack) - n + 1))


def _wrap(block: Any, owner: Any, slot: str, match: re.Match[str], url: str, link_id: Any) -> None:
    text = getattr(owner, slot) or ""
    link = lxml.html.Element("a", {"href": url, LINK_ATTR: str(link_id)})
    link.text = match.group(0)
    link.tail = text[match.end() :]
    setattr(owner, slot, text[: match.start()])
    if slot == "text":
        block.insert(0, link)
    else:
        block.insert(block.index(owner) + 1, link)
