"""What the AI found becomes frozen domain values once; an unreadable answer is the provider's
failure (AISchemaViolation: recorded, not charged), never a crash of the drive."""

import pytest

from automation.domain.ai import AIError, AISchemaViolation
from automation.domain.results import article_of, clusters_of, ideas_of, prompts_of


def test_an_answer_is_read_into_frozen_values():
    found = clusters_of(
        {
            "clusters": [
                {
                    "name": "Compost",
                    "description": "d",
                    "primary_keyword": "compost",
                    "keywords": ["compost", "composting"],
                }
            ]
        }
    )
    assert found[0].keywords == ("compost", "composting")
    idea = {
        "title": "t",
        "brief": "b",
        "outline": ["a"],
        "target_keywords": ["k"],
        "content_type": "post",
        "structure": "guide",
    }
    assert len(ideas_of({"ideas": [idea, idea, idea]}, 2)) == 2  # no more than asked
    prompts = prompts_of(
        {"featured": {"prompt": "p", "alt": "a"}, "inline": [{"prompt": "q", "alt": "b"}]}
    )
    assert (prompts.featured.alt, prompts.inline[0].prompt) == ("a", "q")


@pytest.mark.parametrize(
    ("parse", "data"),
    [
        (clusters_of, {"clusters": [{"name": "x"}]}),
        (lambda d: ideas_of(d, 2), {"ideas": "not a list"}),
        (article_of, {"title": "t", "html": "<p>x</p>", "keywords": "not a list"}),
        (prompts_of, {"featured": None, "inline": []}),
    ],
)
def test_an_unreadable_answer_is_a_schema_violation(parse, data):
    with pytest.raises(AISchemaViolation) as raised:
        parse(data)
    assert isinstance(raised.value, AIError)  # so the item is recorded as failed, not charged
