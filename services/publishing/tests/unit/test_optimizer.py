"""The optimizer's pure part: which checks it acts on, and how an answer is applied — only the
parts the checks name, as plain text, never markup; miscounted or over-long answers leave a part
as it was; the development AI server's answer raises a weak article's score."""

from __future__ import annotations

import json
import random
import uuid
from dataclasses import asdict

from automation.devai.optimize import optimize_article
from publishing.domain.analyzer import ArticleInput, analyze
from publishing.domain.linker import canonical
from publishing.domain.model import Article, Image
from publishing.domain.optimizer import apply, current, messages, parts_for, schema, to_fix

HTML = canonical(
    "<p>Worms eat scraps and make rich castings. <a href='https://example.org'>Read more</a>.</p>"
    "<h2>Getting started</h2><p>Use a shallow box with holes.</p>"
    "<h2>Feeding</h2><p>Give them vegetable peel, never meat.</p>"
    "<h2>Harvesting</h2><p>Collect castings every three months.</p>"
)


def article() -> Article:
    a = Article(
        content_id=uuid.uuid4(),
        account_id=uuid.uuid4(),
        site_id=uuid.uuid4(),
        version=1,
        title="A small guide",
        html=HTML,
        linked_html=HTML,
        meta_title="A small guide",
        meta_description="Short.",
        slug="worm-farms",
        keywords=["worm farms"],
        images=[Image("http://a/1", "a box", "featured")],
        auto_publish=True,
    )
    a.report = {"checks": [asdict(c) for c in score(a).checks]}
    return a


def score(a: Article):  # type: ignore[no-untyped-def]
    return analyze(
        ArticleInput(
            keyphrase=a.keyphrase,
            title=a.meta_title or a.title,
            slug=a.slug,
            meta_description=a.meta_description,
            html=a.html,
            image_alts=tuple(i.alt for i in a.images),
        )
    )


def test_it_acts_only_on_checks_it_can_fix():
    checks = to_fix(article().report["checks"])  # type: ignore[arg-type]
    assert "keyphrase_in_title" in checks and "keyphrase_in_meta_description" in checks
    assert "keyphrase_in_slug" not in checks, "the slug is the remote post's identity"
    assert "text_length" not in checks, "it never writes more body"
    assert parts_for(checks) == [
        "seo_title",
        "meta_description",
        "introduction",
        "subheadings",
        "image_alts",
    ]


def test_answers_are_text_never_markup_and_only_named_parts_change():
    a = article()
    answer = {
        **current(a),
        "seo_title": "Worm farms: a small guide",
        "introduction": "Worm farms <script>alert(1)</script> eat scraps.",
        "subheadings": ["Only one"],  # miscounted: ignored
        "image_alts": ["worm farms in a box"],
    }
    optimized, changes = apply(a, answer, ["keyphrase_in_title", "keyphrase_in_introduction"])
    assert optimized.meta_title == "Worm farms: a small guide"
    assert "<script>" not in optimized.html and "&lt;script&gt;" in optimized.html
    assert optimized.images == a.images, "alts were not among the checks"
    assert "<h2>Getting started</h2>" in optimized.html
    assert "Give them vegetable peel, never meat." in optimized.html, "the body's facts stay"
    assert {c.part for c in changes} == {"seo_title", "introduction"}
    assert a.html == HTML, "the original article is not modified"


def test_the_development_servers_answer_raises_the_score_and_fits_the_schema():
    import jsonschema

    a = article()
    checks = to_fix(a.report["checks"])  # type: ignore[arg-type]
    data = json.loads(messages(a, checks, {})[-1]["content"].split("INPUT (JSON):\n", 1)[1])
    answer = optimize_article(data, random.Random(1))
    jsonschema.validate(answer, schema())
    optimized, changes = apply(a, answer, checks)
    assert changes
    assert score(optimized).score > score(a).score
    assert 120 <= len(optimized.meta_description) <= 156
    assert optimized.meta_title.lower().startswith("worm farms")
