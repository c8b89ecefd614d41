"""Keyword clustering the way a model would do it: by topic, not by spelling.

1. Each keyword is reduced to its topic (modifiers such as "best", "for beginners", "how to choose"
   dropped) and the topic's words to stems, so "composting" meets "compost" and "beds" meets "bed".
2. Keywords with the same topic form one group ("best compost bin", "compost bin tips").
3. Groups are joined under a shared head term: each topic's anchor is its stem that the most
   topics share (ties go to the later word, the grammatical head of an English noun phrase), so
   "worm composting", "compost tumbler" and "hot composting" land in one "Compost" cluster while
   "leaf mold" stays on its own.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from automation.devai.text import MODIFIERS, STOPWORDS, stem, title_case, tokens, topic_words

COMMERCIAL = frozenset(
    [
        "best",
        "top",
        "cheap",
        "cheapest",
        "affordable",
        "buy",
        "price",
        "prices",
        "cost",
        "review",
        "vs",
    ]
)
LEARNING = frozenset(
    ["how", "guide", "tips", "mistakes", "beginners", "beginner", "checklist", "ideas", "explained"]
)


@dataclass
class Topic:
    words: list[str]
    stems: list[str]
    keywords: list[str] = field(default_factory=list)


def cluster_keywords(keywords: list[str]) -> list[dict[str, Any]]:
    topics: dict[tuple[str, ...], Topic] = {}
    for keyword in dict.fromkeys(keywords):  # a repeated keyword belongs to one cluster once
        words = topic_words(keyword)
        stems = [stem(w) for w in words]
        key = tuple(sorted(set(stems)))
        topics.setdefault(key, Topic(words, stems)).keywords.append(keyword)

    frequency = Counter(s for key in topics for s in key)
    groups: dict[str, list[Topic]] = {}
    for topic in topics.values():
        groups.setdefault(_anchor(topic, frequency), []).append(topic)

    clusters = [_describe(anchor, members) for anchor, members in groups.items()]
    clusters.sort(key=lambda c: (-len(c["keywords"]), c["name"]))
    return clusters


def _anchor(topic: Topic, frequency: Counter[str]) -> str:
    best = max(frequency[s] for s in topic.stems)
    return [s for s in topic.stems if frequency[s] == best][-1]


def _describe(anchor: str, members: list[Topic]) -> dict[str, Any]:
    keywords = [k for topic in members for k in topic.keywords]
    name = title_case(_name(anchor, members, keywords))
    return {
        "name": name,
        "description": _description(name, members, keywords),
        "primary_keyword": _primary(name, keywords),
        "keywords": keywords,
    }


def _name(anchor: str, members: list[Topic], keywords: list[str]) -> str:
    """The longest phrase around the anchor that at least half the topics share."""
    if len(members) == 1:
        return core_phrase(members[0].keywords)
    best: tuple[int, int, str] = (0, 0, anchor)
    for topic in members:
        for size in (3, 2, 1):
            for start in range(len(topic.stems) - size + 1):
                gram = topic.stems[start : start + size]
                if anchor not in gram:
                    continue
                shared = sum(1 for other in members if _contains(other.stems, gram))
                if shared * 2 >= len(members) and (size, shared) > best[:2]:
                    best = (size, shared, " ".join(topic.words[start : start + size]))
    if best[0] == 1:  # one word: the spelling searchers use most ("compost" over "composting")
        spellings = Counter(t for k in keywords for t in tokens(k) if stem(t) == anchor)
        return spellings.most_common(1)[0][0] if spellings else best[2]
    return best[2]


def core_phrase(keywords: list[str]) -> str:
    """The shortest of the keywords with leading and trailing modifiers dropped, inner words kept:
    "best couch to 5k" -> "couch to 5k"."""
    edges = MODIFIERS | STOPWORDS
    cores = []
    for keyword in keywords:
        words = tokens(keyword)
        while len(words) > 1 and words[0] in edges:
            words.pop(0)
        while len(words) > 1 and words[-1] in edges:
            words.pop()
        cores.append(" ".join(words))
    return min(cores, key=lambda c: (len(c), c))


def _contains(stems: list[str], gram: list[str]) -> bool:
    size = len(gram)
    return any(stems[i : i + size] == gram for i in range(len(stems) - size + 1))


def _description(name: str, members: list[Topic], keywords: list[str]) -> str:
    named = [stem(w) for w in tokens(name)]
    angles = [
        core_phrase(topic.keywords)
        for topic in sorted(members, key=lambda t: -len(t.keywords))
        if topic.stems != named
    ]
    words = Counter(t for k in keywords for t in tokens(k))
    buying = sum(words[w] for w in COMMERCIAL)
    learning = sum(words[w] for w in LEARNING)
    if buying > learning:
        intent = "compare options and prices before they buy"
    elif learning:
        intent = "learn how to get it right and avoid common mistakes"
    else:
        intent = "understand the topic and decide what to do next"
    subject = name.lower()
    if angles:
        top = angles[:3]
        listed = top[0] if len(top) == 1 else ", ".join(top[:-1]) + " and " + top[-1]
        return f"Searchers interested in {subject}, including {listed}, who want to {intent}."
    return f"Searchers interested in {subject} who want to {intent}."


def _primary(name: str, keywords: list[str]) -> str:
    """The most general keyword: its topic is the cluster's name, with the fewest modifiers."""
    target = [stem(w) for w in tokens(name)]

    def rank(keyword: str) -> tuple[int, int, int, str]:
        words = tokens(keyword)
        extra = sum(1 for w in words if w in MODIFIERS or w in STOPWORDS)
        matches = [stem(w) for w in topic_words(keyword)] == target
        return (0 if matches else 1, extra, len(keyword), keyword)

    return min(keywords, key=rank)
