"""Internal linking: relevance, injection rules and caps, undo restoring the exact HTML."""

from __future__ import annotations

import itertools
import uuid

from publishing.domain.linker import (
    LINK_ATTR,
    Candidate,
    anchor_options,
    canonical,
    inject,
    link_cap,
    rank,
    undo,
)
from publishing.domain.text import parse_fragment

ARTICLE = canonical(
    "<p>Raised beds warm up early in spring. Good raised beds need compost and drainage.</p>"
    "<h2>Compost and soil</h2>"
    "<p>Mix garden compost into the top layer. Worm castings and leaf mould help too.</p>"
    "<ul><li>Check soil drainage after heavy rain.</li><li>Use mulch to keep moisture.</li></ul>"
    "<figure><img src='x.png' alt='bed'><figcaption>Leaf mould in a raised bed</figcaption></figure>"
    "<p>Read <a href='https://other.example/x'>worm castings</a> research for more.</p>"
    "<p>Mulch and compost together make the best soil for vegetables and herbs.</p>"
)


def candidates() -> list[Candidate]:
    return [
        Candidate(
            "inventory:compost",
            "https://s.example/compost",
            "Garden compost guide",
            "garden compost",
            "compost heaps and bins",
        ),
        Candidate(
            "inventory:mulch",
            "https://s.example/mulch",
            "Mulch for beginners",
            "mulch",
            "mulch keeps moisture in soil",
        ),
        Candidate(
            "inventory:drain",
            "https://s.example/drainage",
            "Soil drainage fixes",
            "soil drainage",
            "drainage for clay soil",
        ),
        Candidate(
            "inventory:worms",
            "https://s.example/worms",
            "Worm castings explained",
            "worm castings",
            "worms and castings",
        ),
        Candidate(
            "inventory:leaf",
            "https://s.example/leaf",
            "Leaf mould",
            "leaf mould",
            "leaf mould from autumn leaves",
        ),
        Candidate(
            "inventory:cars",
            "https://s.example/cars",
            "Electric cars",
            "electric cars",
            "batteries charging motorway",
        ),
    ]


def ids():
    counter = itertools.count(1)
    return lambda: uuid.UUID(int=next(counter))


def test_rank_keeps_relevant_candidates_above_the_minimum_similarity() -> None:
    ranked = rank(ARTICLE, candidates(), 0.05)
    refs = [c.target_ref for c, _ in ranked]
    assert "inventory:cars" not in refs
    assert "inventory:compost" in refs
    assert [s for _, s in ranked] == sorted((s for _, s in ranked), reverse=True)


def test_links_go_into_paragraphs_and_list_items_only() -> None:
    ranked = [(c, 1.0) for c in candidates()[:5]]
    html, links = inject(ARTICLE, ranked, "raised beds", per_1000=200, max_links=10, new_id=ids())
    root = parse_fragment(html)
    injected = [a for a in root.iter("a") if a.get(LINK_ATTR)]
    assert len(injected) == len(links) >= 3
    for a in injected:
        parents = {p.tag for p in a.iterancestors()}
        assert parents & {"p", "li"}
        assert not parents & {"h2", "figcaption", "figure", "a"}
    # the existing link's anchor "worm castings" is not linked again inside it; the
    # "worm castings" in the earlier paragraph is fine
    assert html.count("https://other.example/x") == 1
    # "leaf mould" appears in the caption and in a paragraph: only the paragraph may carry it
    leaf = [link for link in links if link.target_ref == "inventory:leaf"]
    assert all("figcaption" not in html.split(str(link.link_id))[0][-200:] for link in leaf)


def test_the_first_sentence_is_never_linked() -> None:
    cand = Candidate("p:1", "https://s.example/beds", "Raised beds", "raised beds")
    html, links = inject(ARTICLE, [(cand, 1.0)], "compost", per_1000=50, max_links=5, new_id=ids())
    assert len(links) == 1
    first_sentence = "Raised beds warm up early in spring."
    assert html.startswith(f"<p>{first_sentence} Good <a href=")  # the second occurrence


def test_each_target_once_and_anchors_vary() -> None:
    twin = Candidate(
        "inventory:compost2", "https://s.example/compost", "Compost again", "garden compost"
    )
    other = Candidate(
        "inventory:c3", "https://s.example/c3", "Garden compost tips", "garden compost"
    )
    ranked = [(candidates()[0], 1.0), (twin, 0.9), (other, 0.8)]
    html, links = inject(ARTICLE, ranked, "raised beds", per_1000=200, max_links=10, new_id=ids())
    assert html.count('href="https://s.example/compost"') == 1
    anchors = [link.anchor.lower() for link in links]
    assert len(anchors) == len(set(anchors))


def test_the_own_keyphrase_is_never_an_anchor() -> None:
    cand = Candidate("p:1", "https://s.example/mulch", "Mulch", "mulch")
    _, links = inject(ARTICLE, [(cand, 1.0)], "mulch", per_1000=50, max_links=5, new_id=ids())
    assert links == []


def test_density_cap_limits_links_per_1000_words() -> None:
    assert link_cap(1000, 4, 10) == 4
    assert link_cap(2500, 4, 8) == 8
    assert link_cap(100, 4, 8) == 1
    assert link_cap(0, 4, 8) == 0
    ranked = [(c, 1.0) for c in candidates()[:5]]
    _, links = inject(ARTICLE, ranked, "raised beds", per_1000=4, max_links=10, new_id=ids())
    assert len(links) == 1  # the article has ~60 words: one link at most


def test_undo_restores_the_exact_html_in_any_order() -> None:
    ranked = [(c, 1.0) for c in candidates()[:5]]
    html, links = inject(ARTICLE, ranked, "raised beds", per_1000=200, max_links=10, new_id=ids())
    assert len(links) >= 3
    # undo one in the middle: the same as injecting without it
    middle = links[1]
    without = undo(html, middle.link_id)
    assert without is not None and str(middle.link_id) not in without
    for link in links:
        if link is not middle:
            assert str(link.link_id) in without
    for link in reversed(links):
        if link is not middle:
            without = undo(without, link.link_id)
    assert without == ARTICLE
    assert undo(ARTICLE, links[0].link_id) is None


def test_canonical_html_is_a_fixed_point() -> None:
    raw = "<p>A &amp; B <b>bold</b></p>\n<h2>x</h2><p>caf\u00e9 \u2019quoted\u2019</p>"
    once = canonical(raw)
    assert canonical(once) == once


def test_anchor_options_start_with_the_keyphrase() -> None:
    options = anchor_options(Candidate("x", "u", "Soil drainage fixes for clay", "soil drainage"))
    assert options[0] == "soil drainage"
    assert "Soil drainage fixes for clay" in options
