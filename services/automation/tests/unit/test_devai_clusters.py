"""The development server clusters keywords by topic, as a model would, not by spelling."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from automation.devai.clusters import cluster_keywords
from automation.devai.text import stem, topic_words

SAMPLE = Path(__file__).resolve().parents[4] / "data" / "sample_keywords.csv"


def sample_keywords() -> list[str]:
    with SAMPLE.open(newline="") as handle:
        return [row["keyword"] for row in csv.DictReader(handle)]


def cluster_of(clusters: list[dict], keyword: str) -> dict:
    (found,) = [c for c in clusters if keyword in c["keywords"]]
    return found


def test_the_demo_keywords_make_between_15_and_40_clusters_covering_each_keyword_once() -> None:
    keywords = sample_keywords()
    assert len(keywords) == 294
    clusters = cluster_keywords(keywords)

    assert 15 <= len(clusters) <= 40, [c["name"] for c in clusters]
    assigned = [k for c in clusters for k in c["keywords"]]
    assert sorted(assigned) == sorted(keywords)
    assert all(len(c["keywords"]) >= 2 for c in clusters), "no one-keyword clusters"
    assert all(c["primary_keyword"] in c["keywords"] for c in clusters)
    assert all(c["name"] and c["description"].endswith(".") for c in clusters)


def test_stems_and_shared_head_terms_group_related_topics() -> None:
    clusters = cluster_keywords(sample_keywords())

    compost = cluster_of(clusters, "compost bin tips")
    assert "worm composting tips" in compost["keywords"]  # "composting" meets "compost"
    assert "best compost tumbler" in compost["keywords"]
    assert "leaf mold tips" not in compost["keywords"]
    beds = cluster_of(clusters, "metal raised beds guide")  # "beds" meets "bed"
    assert "raised bed soil mix tips" in beds["keywords"]
    tomatoes = cluster_of(clusters, "growing tomatoes guide")  # "tomatoes" meets "tomato"
    assert "tomato blight tips" in tomatoes["keywords"]
    assert cluster_of(clusters, "roth ira tips") is not compost


def test_modifiers_do_not_make_topics() -> None:
    clusters = cluster_keywords(
        ["best compost bin", "cheap compost bin", "how to choose compost bin", "compost bin tips"]
    )
    assert len(clusters) == 1
    assert clusters[0]["name"] == "Compost Bin"
    assert clusters[0]["primary_keyword"] in ("best compost bin", "compost bin tips")


def test_a_small_batch_keeps_unrelated_topics_apart_and_is_deterministic() -> None:
    keywords = [
        "hot composting",
        "bokashi composting guide",
        "leaf mold",
        "index funds",
        "roth ira",
    ]
    first = cluster_keywords(keywords)
    assert first == cluster_keywords(keywords)
    assert len(first) == 4
    assert len(cluster_of(first, "hot composting")["keywords"]) == 2


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("composting", "compost"),
        ("beds", "bed"),
        ("tomatoes", "tomato"),
        ("grinder", "grind"),
        ("running", "run"),
        ("funds", "fund"),
        ("shoes", "shoe"),
    ],
)
def test_stems_meet(a: str, b: str) -> None:
    assert stem(a) == stem(b)


def test_topic_words_drop_intent_modifiers() -> None:
    assert topic_words("how to choose compost bin") == ["compost", "bin"]
    assert topic_words("running shoes for flat feet") == ["running", "shoes", "flat", "feet"]
    assert topic_words("best") == ["best"]  # nothing but a modifier: keep it rather than nothing
