"""Articles shaped like articles: one H1, the brief's outline as H2 sections (H3 where a section is
long), a list, FAQs, a closing section, and sentences from templates that use the keyphrase at a
natural density (about 0.7%, never above 2.5%) and the related keywords in between.

The length follows `target_words` (within a sentence or so); `word_count` is what the HTML holds,
counted the way the run engine counts it (tags stripped, split on whitespace).
"""

from __future__ import annotations

import html
import itertools
import random
import re
from dataclasses import dataclass, field
from typing import Any

from automation.devai import phrases
from automation.devai.clusters import core_phrase
from automation.devai.text import count_words, slugify

TARGET_DENSITY = 0.007
MAX_DENSITY = 0.025
META_MIN, META_MAX = 120, 155
FAQ_HEADING = re.compile(r"\b(faq|faqs|questions?)\b", re.IGNORECASE)
CLOSING_HEADING = re.compile(r"\b(conclusion|summary|final thoughts|bottom line|wrap)", re.I)


def visible_words(markup: str) -> int:
    return count_words(re.sub(r"<[^>]+>", " ", markup))


@dataclass
class Writer:
    """Writes sentences one at a time, steering the keyphrase count toward the target density."""

    rng: random.Random
    kp: str
    topic: str
    terms: list[str]
    words: int = 0
    kp_count: int = 0
    parts: list[str] = field(default_factory=list)
    decks: dict[str, list[str]] = field(default_factory=dict)

    def draw(self, name: str, pool: tuple[str, ...]) -> list[str]:
        """The pool's templates in a shuffled order, none repeated until all were used."""
        deck = self.decks.get(name) or []
        if not deck:
            deck = list(pool)
            self.rng.shuffle(deck)
        self.decks[name] = deck
        return deck

    def _occurrences(self, text: str) -> int:
        return len(re.findall(re.escape(self.kp), text, flags=re.IGNORECASE))

    def emit(self, markup: str) -> None:
        self.parts.append(markup)
        self.words += visible_words(markup)
        self.kp_count += self._occurrences(html.unescape(re.sub(r"<[^>]+>", " ", markup)))

    def fill(self, template: str, heading: str = "") -> str:
        text = template.format(
            kp=self.kp,
            Kp=self.kp[:1].upper() + self.kp[1:],
            topic=self.topic,
            term=self.rng.choice(self.terms),
            heading=heading,
        )
        return text[:1].upper() + text[1:]

    def sentence(self) -> str:
        """A keyphrase sentence while below the target density, otherwise one that keeps the
        count under the ceiling (a related term or topic may itself contain the keyphrase)."""
        upcoming = self.words + 18
        if self.kp_count < TARGET_DENSITY * upcoming:
            pool = phrases.KP_QUERY + (phrases.KP_NOUN if self.kp == self.topic else ())
            return self.fill(self.draw("kp", pool).pop())
        related = self.terms != [self.topic]  # "also ask about X" needs an X other than the topic
        deck = self.draw("prose", phrases.GENERAL + (phrases.TERM if related else ()))
        for index in range(len(deck) - 1, -1, -1):
            text = self.fill(deck[index])
            extra = self._occurrences(text)
            if not extra or (self.kp_count + extra) <= MAX_DENSITY * 0.8 * upcoming:
                del deck[index]
                return text
        return self.fill(phrases.GENERAL[2])  # no slot at all

    def paragraph(self, budget: int, opener: str = "") -> None:
        """Sentences until the paragraph holds about `budget` words (1 to 6 sentences)."""
        before = self.kp_count
        sentences = [opener] if opener else []
        self.kp_count += self._occurrences(opener)
        written = count_words(opener)
        while written < budget or len(sentences) < (1 if budget < 25 else 2):
            text = self.sentence()
            for _ in range(5):  # a reshuffled deck may offer a sentence this paragraph has
                if text not in sentences:
                    break
                text = self.sentence()
            else:
                break
            sentences.append(text)
            written += count_words(text)
            self.kp_count += self._occurrences(text)
            if len(sentences) >= 6:
                break
        self.kp_count = before  # emit counts the paragraph as written
        self.emit(f"<p>{html.escape(' '.join(sentences), quote=False)}</p>")

    def prose(self, budget: int, opener: str = "") -> None:
        """Paragraphs of 50-90 words until `budget` words are written."""
        goal = self.words + budget
        first = True
        while self.words < goal - 10 or first:
            self.paragraph(min(max(goal - self.words, 25), self.rng.randint(50, 90)), opener)
            opener, first = "", False


def write_article(data: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    idea = data.get("idea") or {}
    title = str(idea.get("title") or "Untitled").strip()
    target = max(100, int(data.get("target_words") or 800))
    keywords = [str(k).strip() for k in idea.get("target_keywords") or [] if str(k).strip()]
    kp = (keywords[0] if keywords else core_phrase([title])).lower()
    topic = core_phrase([kp])
    terms = [core_phrase([k]).lower() for k in keywords[1:]]
    terms = [t for t in dict.fromkeys(terms) if t != topic] or [topic]
    outline = [str(h).strip() for h in idea.get("outline") or [] if str(h).strip()]
    outline = outline or [f"What {topic} involves", f"Getting started with {topic}", "Next steps"]

    w = Writer(rng, kp, topic, terms)
    w.emit(f"<h1>{html.escape(title, quote=False)}</h1>")
    body_headings = [h for h in outline if not FAQ_HEADING.search(h)]
    faq = [h for h in outline if FAQ_HEADING.search(h)]
    closes = any(CLOSING_HEADING.search(h) for h in body_headings)
    compact = target < 450  # short pieces: no H3s, no list, one FAQ, no extra closing section
    faq_pairs = 1 if compact else 2
    closing_section = not closes and not compact
    intro = max(20, target // 10)
    closing = max(20, target // 12) if closing_section else 0
    fixed = sum(count_words(h) for h in (title, *outline)) + 28 * faq_pairs * len(faq) + 12
    sections = max(1, len(body_headings))
    per_section = max(15, (target - fixed - intro - closing) // sections)

    w.prose(intro, w.fill(w.draw("kp", phrases.KP_QUERY).pop()))
    for index, heading in enumerate(body_headings):
        w.emit(f"<h2>{html.escape(heading, quote=False)}</h2>")
        opener = w.fill(
            w.draw("open", phrases.SECTION_OPENERS).pop(), heading.lower().rstrip(".:?")
        )
        if per_section < 40:
            w.prose(per_section)
        elif index == 1 and not compact:
            w.prose(per_section // 2, opener)
            items = rng.sample(phrases.LIST_ITEMS, 4)
            w.emit("<ul>" + "".join(f"<li>{item}</li>" for item in items) + "</ul>")
            w.prose(max(20, per_section - per_section // 2 - 30))
        elif per_section >= 160:
            w.prose(per_section // 3, opener)
            for h3 in rng.sample(phrases.H3, 2):
                w.emit(f"<h3>{html.escape(w.fill(h3), quote=False)}</h3>")
                w.prose(per_section // 3 - 4)
        else:
            w.prose(per_section, opener)
    for heading in faq:
        w.emit(f"<h2>{html.escape(heading, quote=False)}</h2>")
        for question, answer in rng.sample(phrases.FAQ, faq_pairs):
            w.emit(f"<h3>{html.escape(w.fill(question), quote=False)}</h3>")
            w.emit(f"<p>{html.escape(w.fill(answer), quote=False)}</p>")
    if closing_section:
        w.emit(f"<h2>{rng.choice(phrases.CLOSING)}</h2>")
    remaining = target - w.words - 10
    if remaining > 12 or closing_section:
        w.prose(max(15, remaining))
    w.emit(f"<p>{rng.choice(phrases.CLOSERS)}</p>")

    markup = "\n".join(w.parts)
    return {
        "title": title,
        "html": markup,
        "meta_title": _clip(title, 60),
        "meta_description": meta_description(kp, body_headings, terms, rng),
        "slug": slugify(title),
        "keywords": keywords or [kp],
        "word_count": visible_words(markup),
    }


def meta_description(kp: str, headings: list[str], terms: list[str], rng: random.Random) -> str:
    """120-155 characters: a lead naming the keyphrase and what the article covers, then the
    tails that bring it into range (cut at a word only when nothing fits)."""
    subjects = [h.lower().rstrip(".:?") for h in headings] + [t for t in terms if t != kp]
    subjects = [s for s in dict.fromkeys(subjects) if len(s) <= 45]
    subjects += ["the basics", "common mistakes", "next steps"]
    leads = list(phrases.META_LEADS if kp == core_phrase([kp]) else phrases.META_LEADS[:1])
    rng.shuffle(leads)
    tails = list(phrases.META_TAILS)
    rng.shuffle(tails)
    for lead in leads:
        for count in (3, 2, 1):
            listed = subjects[:count]
            joined = listed[0] if count == 1 else ", ".join(listed[:-1]) + " and " + listed[-1]
            text = lead.format(kp=kp, Kp=kp[:1].upper() + kp[1:], subjects=joined)
            for tail in ["", *tails]:
                candidate = text + tail
                if META_MIN <= len(candidate) <= META_MAX:
                    return candidate
            for first, second in itertools.pairwise(tails):
                candidate = text + first + second
                if META_MIN <= len(candidate) <= META_MAX:
                    return candidate
    text = leads[0].format(kp=kp, Kp=kp[:1].upper() + kp[1:], subjects=subjects[0])
    while len(text) < META_MIN:
        text += tails.pop() if tails else " Practical advice you can use today."
    return _fit(text)


def _fit(text: str) -> str:
    if len(text) <= META_MAX:
        return text
    cut = text[: META_MAX - 1]
    if " " in cut[META_MIN:]:
        cut = cut[: cut.rindex(" ")]
    cut = cut.rstrip(" ,;:-") + "."
    return cut if len(cut) >= META_MIN else text[: META_MAX - 1] + "."


def _clip(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[:limit]
    return cut[: cut.rindex(" ")] if " " in cut else cut
