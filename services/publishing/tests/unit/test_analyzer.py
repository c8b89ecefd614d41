"""Analyzer golden tests: hand-written articles with the expected result of every check."""

from __future__ import annotations

import pytest

from publishing.domain.analyzer import WEIGHTS, ArticleInput, analyze
from publishing.domain.text import flesch_reading_ease, syllables

SENTENCES = [
    "Compost bins turn kitchen scraps into rich soil for the garden.",
    "You can start with a simple box made from old pallets.",
    "Add green waste and brown waste in equal parts.",
    "Turn the pile every week so air reaches the middle.",
    "In a few months the scraps break down into dark crumbly earth.",
    "Many people find the work easy once they build the habit.",
]


def paragraph(n_sentences: int, lead: str = "") -> str:
    body = " ".join(SENTENCES[i % len(SENTENCES)] for i in range(n_sentences))
    return f"<p>{lead}{body}</p>"


# A good article: ~700 words, keyphrase "compost bins" placed as the checks want.
GOOD_HTML = (
    paragraph(5, "Compost bins are the easiest way to start. ")
    + "<h2>Why compost bins work</h2>"
    + paragraph(6)
    + paragraph(6)
    + '<img src="a.png" alt="two compost bins in a garden">'
    + "<h2>Choosing a spot</h2>"
    + paragraph(6)
    + paragraph(6)
    + "<h2>Filling compost bins</h2>"
    + paragraph(6)
    + paragraph(6)
    + "<h3>What to avoid</h3>"
    + paragraph(6)
    + '<p>See our <a href="/guides/soil">soil guide</a> and the '
    + '<a href="https://example.org/composting">composting basics</a>.</p>'
)
GOOD = ArticleInput(
    keyphrase="compost bins",
    title="Compost bins: a beginner's guide to garden soil",
    slug="compost-bins-beginners-guide",
    meta_description=(
        "Compost bins turn kitchen scraps into garden soil. Learn how to build, fill and turn "
        "one, what to avoid, and how long it takes."
    ),
    html=GOOD_HTML,
    site_host="garden.example.com",
    target_words=600,
)

# A poor article: short, keyphrase missing from most places, one giant paragraph, two H1s,
# long sentences, stuffing in a link anchored on its own keyphrase, no meta description.
LONG_SENTENCE = (
    "The considerable organizational complexity associated with sophisticated municipal "
    "composting infrastructure necessitates comprehensive evaluation of environmental "
    "sustainability considerations, operational efficiency parameters and community "
    "participation characteristics."
)
POOR = ArticleInput(
    keyphrase="worm farm",
    title="Everything about gardens",
    slug="gardens",
    meta_description="",
    html=(
        "<h1>Gardens</h1><h1>More gardens</h1>"
        f"<p>{' '.join([LONG_SENTENCE] * 10)} worm farm worm farm worm farm worm farm</p>"
        '<p>Read about the <a href="https://garden.example.com/worms">worm farm</a>.</p>'
        '<img src="b.png">'
    ),
    site_host="garden.example.com",
)

GOOD_EXPECTED = {
    "keyphrase_in_title": "pass",
    "keyphrase_in_introduction": "pass",
    "keyphrase_in_slug": "pass",
    "keyphrase_in_meta_description": "pass",
    "keyphrase_in_subheadings": "pass",  # 2 of 4 H2/H3 = 50%
    "keyphrase_in_image_alt": "pass",
    "keyphrase_density": "pass",
    "meta_description_length": "pass",
    "text_length": "pass",
    "single_h1": "pass",
    "subheading_distribution": "pass",
    "paragraph_length": "pass",
    "sentence_length": "pass",
    "flesch_reading_ease": "pass",
    "internal_links": "pass",
    "outbound_links": "pass",
    "no_keyphrase_anchor": "pass",
}
POOR_EXPECTED = {
    "keyphrase_in_title": "fail",
    "keyphrase_in_introduction": "pass",  # it is there, at the end of the first paragraph
    "keyphrase_in_slug": "fail",
    "keyphrase_in_meta_description": "fail",
    "keyphrase_in_subheadings": "fail",  # H1s only, no H2/H3
    "keyphrase_in_image_alt": "fail",  # an image without alt
    "keyphrase_density": "pass",  # 5 occurrences in ~240 words: 2.1%, within 0.5-3%
    "meta_description_length": "fail",
    "text_length": "fail",
    "single_h1": "fail",
    "subheading_distribution": "pass",  # every section is under 300 words
    "paragraph_length": "fail",  # over 200 words in one paragraph
    "sentence_length": "fail",
    "flesch_reading_ease": "fail",
    "internal_links": "pass",
    "outbound_links": "improve",
    "no_keyphrase_anchor": "fail",
}


def test_weights_add_up_to_100() -> None:
    assert sum(WEIGHTS.values()) == 100
    assert all(w > 0 for w in WEIGHTS.values())


def test_a_good_article_passes_every_check() -> None:
    report = analyze(GOOD)
    results = {c.name: c.result for c in report.checks}
    assert results == GOOD_EXPECTED, {c.name: c.why for c in report.checks}
    assert report.score == 100
    assert report.failed == []


def test_a_poor_article_fails_with_reasons() -> None:
    report = analyze(POOR)
    results = {c.name: c.result for c in report.checks}
    expected = POOR_EXPECTED
    assert results == expected, {c.name: c.why for c in report.checks}
    assert set(report.failed) == {k for k, v in expected.items() if v == "fail"}
    assert report.score < 40
    assert "2 H1" in report.check("single_h1").why
    assert "'worm farm'" in report.check("no_keyphrase_anchor").why


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Compost bins for small gardens", "pass"),
        ("Small gardens and their compost bins", "improve"),
        ("Small gardens and compost", "fail"),
    ],
)
def test_keyphrase_at_the_beginning_of_the_title_is_best(title: str, expected: str) -> None:
    report = analyze(ArticleInput("compost bins", title, "x", "", "<p>Text.</p>"))
    assert report.check("keyphrase_in_title").result == expected


@pytest.mark.parametrize(
    ("occurrences", "expected"),
    [(0, "fail"), (1, "improve"), (4, "pass"), (14, "improve"), (25, "fail")],
)
def test_keyphrase_density_bands(occurrences: int, expected: str) -> None:
    filler = "the garden grows well in spring and summer " * 50  # 400 words
    html = f"<p>{filler}{'compost ' * occurrences}</p>"
    report = analyze(ArticleInput("compost", "t", "s", "", html))
    assert report.check("keyphrase_density").result == expected, report.check(
        "keyphrase_density"
    ).why


@pytest.mark.parametrize(
    ("length", "expected"),
    [(0, "fail"), (100, "improve"), (120, "pass"), (156, "pass"), (157, "improve")],
)
def test_meta_description_length(length: int, expected: str) -> None:
    report = analyze(ArticleInput("k", "t", "s", "m" * length, "<p>Text.</p>"))
    assert report.check("meta_description_length").result == expected


def test_subheading_share_outside_30_to_75_percent_is_improve() -> None:
    html = "".join(f"<h2>compost {i}</h2><p>Text here.</p>" for i in range(4))
    report = analyze(ArticleInput("compost", "t", "s", "", html))
    assert report.check("keyphrase_in_subheadings").result == "improve"  # 100%


def test_length_is_measured_against_the_site_target() -> None:
    html = paragraph(40)  # ~400 words
    short_of_target = analyze(ArticleInput("k", "t", "s", "", html, target_words=1500))
    on_target = analyze(ArticleInput("k", "t", "s", "", html, target_words=450))
    assert short_of_target.check("text_length").result == "improve"
    assert on_target.check("text_length").result == "pass"


def test_featured_image_alt_counts_for_the_keyphrase() -> None:
    report = analyze(
        ArticleInput("compost", "t", "s", "", "<p>x</p>", image_alts=("a compost heap",))
    )
    assert report.check("keyphrase_in_image_alt").result == "pass"


def test_syllables_come_from_the_dictionary_with_a_fallback() -> None:
    assert syllables("garden") == 2
    assert syllables("readability") == 5
    assert syllables("zorblefrump") >= 2  # not in the dictionary: hyphenation fallback


def test_flesch_reading_ease_follows_the_formula() -> None:
    # 2 sentences, 7 words, 7 syllables: 206.835 - 1.015*3.5 - 84.6*1 = 118.6825
    assert flesch_reading_ease("The cat sat down. It was glad.") == pytest.approx(118.6825)
