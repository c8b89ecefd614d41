"""The development server's articles are shaped like articles (checked with an HTML parser)."""

from __future__ import annotations

import json
import random
import re
from html.parser import HTMLParser

import pytest

from automation.devai.articles import META_MAX, META_MIN, write_article
from automation.devai.generators import answer


class Outline(HTMLParser):
    """Headings, paragraphs and the visible text of an HTML fragment."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.blocks: list[tuple[str, str]] = []
        self.text: list[str] = []
        self.unclosed = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.stack.append(tag)
        if tag in ("h1", "h2", "h3", "p", "li"):
            self.blocks.append((tag, ""))

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes {self.stack[-1:]}"
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self.stack and self.blocks and self.stack[-1] == self.blocks[-1][0]:
            tag, text = self.blocks[-1]
            self.blocks[-1] = (tag, text + data)

    def of(self, tag: str) -> list[str]:
        return [text for kind, text in self.blocks if kind == tag]


def parse(markup: str) -> Outline:
    parser = Outline()
    parser.feed(markup)
    parser.close()
    assert parser.stack == [], "every element is closed"
    return parser


IDEA = {
    "title": "The Best Compost Bin: How to Choose the Right One",
    "brief": "Help readers choose a compost bin.",
    "outline": [
        "What to look for",
        "The main options compared",
        "Which option suits which reader",
        "How to decide",
        "Frequently asked questions",
    ],
    "target_keywords": ["best compost bin", "cheap compost bin", "worm composting"],
    "structure": "comparison",
}


def density(text: str, phrase: str) -> float:
    return len(re.findall(re.escape(phrase), text, re.IGNORECASE)) / len(text.split())


@pytest.mark.parametrize("target", [200, 700, 1200, 2500])
@pytest.mark.parametrize(
    "keywords",
    [
        ["best compost bin", "cheap compost bin", "worm composting"],
        ["worm composting", "bokashi composting"],
        ["how to choose high yield savings account"],
    ],
)
def test_article_shape_length_density_and_meta(target: int, keywords: list[str]) -> None:
    idea = {**IDEA, "target_keywords": keywords}
    article = write_article({"idea": idea, "target_words": target}, random.Random(target))
    page = parse(article["html"])
    text = " ".join(page.text)

    assert page.of("h1") == [IDEA["title"]]
    assert article["html"].lstrip().startswith("<h1>")
    h2s = page.of("h2")
    assert [h for h in h2s if h in IDEA["outline"]] == IDEA["outline"], "the outline, in order"
    assert page.of("h3"), "the FAQ at least has questions as H3s"
    paragraphs = page.of("p")
    assert len(paragraphs) >= len(h2s)
    for paragraph in paragraphs:
        sentences = re.split(r"(?<=[.?!])\s+", paragraph.strip())
        assert all(s[:1].isupper() or s[:1] == '"' for s in sentences), paragraph
        assert all(s.endswith((".", "?", "!")) for s in sentences), paragraph
        assert len(set(sentences)) == len(sentences), f"a sentence repeated: {paragraph}"

    words = len(text.split())
    assert article["word_count"] == words
    assert 0.85 * target <= words <= 1.2 * target
    assert 0.005 <= density(text, keywords[0]) <= 0.03, density(text, keywords[0])
    meta = article["meta_description"]
    assert META_MIN <= len(meta) <= META_MAX <= 156
    assert keywords[0].lower() in meta.lower()
    assert len(article["meta_title"]) <= 60
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", article["slug"])


def test_a_list_and_sections_with_h3s_appear_in_longer_articles() -> None:
    article = write_article({"idea": IDEA, "target_words": 1500}, random.Random(1))
    page = parse(article["html"])
    assert len(page.of("li")) >= 3
    assert len(page.of("h3")) >= 4


def test_markup_in_the_brief_is_escaped() -> None:
    idea = {**IDEA, "title": "Bins <script>alert(1)</script> & more", "outline": ["A < B", "C"]}
    page = parse(write_article({"idea": idea, "target_words": 400}, random.Random(2))["html"])
    assert page.of("h1") == ["Bins <script>alert(1)</script> & more"]
    assert "A < B" in page.of("h2")


def test_the_article_function_is_deterministic_per_prompt() -> None:
    messages = [
        {"role": "system", "content": "Write the article."},
        {
            "role": "user",
            "content": "INPUT (JSON):\n" + json.dumps({"idea": IDEA, "target_words": 700}),
        },
    ]
    first = answer("article", {}, messages)
    assert first == answer("article", {}, messages)
    other = [messages[0], {**messages[1], "content": messages[1]["content"].replace("700", "900")}]
    assert answer("article", {}, other)["html"] != first["html"]


def test_ideas_carry_an_outline_a_structure_and_the_clusters_keywords() -> None:
    keywords = ["best compost bin", "compost bin tips", "how to choose compost bin"]
    messages = [
        {
            "role": "user",
            "content": "INPUT (JSON):\n"
            + json.dumps({"cluster": {"name": "Compost Bin", "keywords": keywords}, "count": 3}),
        }
    ]
    ideas = answer("content_ideas", {}, messages)["ideas"]
    assert [i["target_keywords"][0] for i in ideas] == keywords
    assert len({i["title"] for i in ideas}) == 3
    assert all(len(i["outline"]) >= 3 for i in ideas)
    assert {i["structure"] for i in ideas} == {"comparison", "listicle", "how_to"}
