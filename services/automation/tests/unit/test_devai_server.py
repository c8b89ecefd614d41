"""The development server over HTTP (in process): any schema answered, calls counted per prompt."""

from __future__ import annotations

import json

import jsonschema
import pytest
from fastapi.testclient import TestClient

from automation.devai.app import create_app


@pytest.fixture
def client() -> TestClient:
    return TestClient(create_app())


def chat(client: TestClient, name: str, schema: dict, data: dict) -> dict:
    response = client.post(
        "/v1/chat/completions",
        json={
            "model": "gpt-4.1-mini",
            "messages": [
                {"role": "system", "content": f"Task {name}."},
                {"role": "user", "content": "INPUT (JSON):\n" + json.dumps(data)},
            ],
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": name, "strict": True, "schema": schema},
            },
        },
    )
    assert response.status_code == 200, response.text
    return response.json()


def content(answer: dict) -> object:
    return json.loads(answer["choices"][0]["message"]["content"])


def strict(properties: dict) -> dict:
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


SCHEMAS = {
    "seo_optimization": strict(
        {
            "html": {"type": "string"},
            "meta_description": {"type": "string", "minLength": 120, "maxLength": 156},
            "slug": {"type": "string", "pattern": "^[a-z0-9-]+$"},
            "score": {"type": "integer", "minimum": 0, "maximum": 100},
            "changes": {
                "type": "array",
                "minItems": 2,
                "maxItems": 5,
                "items": strict(
                    {
                        "kind": {"type": "string", "enum": ["heading", "link", "density"]},
                        "reason": {"type": "string"},
                    }
                ),
            },
        }
    ),
    "refs_and_combinators": {
        "$defs": {
            "link": strict(
                {"url": {"type": "string", "format": "uri"}, "anchor": {"type": "string"}}
            ),
            "node": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "children": {"type": "array", "items": {"$ref": "#/$defs/node"}},
                },
                "required": ["name", "children"],
                "additionalProperties": False,
            },
        },
        **strict(
            {
                "links": {"type": "array", "items": {"$ref": "#/$defs/link"}, "uniqueItems": True},
                "tree": {"$ref": "#/$defs/node"},
                "maybe": {
                    "anyOf": [
                        {"type": "null"},
                        {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
                    ]
                },
                "both": {"allOf": [strict({"a": {"type": "string"}}), {"required": ["a"]}]},
                "version": {"const": 2},
                "when": {"type": ["string", "null"], "format": "date-time"},
                "id": {"type": "string", "format": "uuid"},
                "step": {"type": "number", "multipleOf": 0.25, "minimum": 1, "maximum": 3},
                "pair": {
                    "type": "array",
                    "prefixItems": [{"type": "integer"}, {"type": "boolean"}],
                    "items": False,
                    "minItems": 2,
                },
            }
        ),
    },
    "anything": {"type": "object"},
}


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_any_schema_gets_a_valid_answer(client: TestClient, name: str) -> None:
    data = {
        "html": "<h1>Compost</h1><p>Turn it weekly.</p>",
        "title": "Compost bins",
        "keyword": "compost bin",
    }
    answer = content(chat(client, name, SCHEMAS[name], data))
    jsonschema.validate(answer, SCHEMAS[name])


def test_names_say_what_a_value_is_and_input_fields_are_echoed(client: TestClient) -> None:
    data = {"article": {"html": "<h1>Compost</h1><p>Turn it weekly.</p>", "title": "Compost bins"}}
    answer = content(chat(client, "seo_optimization", SCHEMAS["seo_optimization"], data))
    assert answer["html"] == data["article"]["html"]
    assert answer["slug"] == "compost-bins"
    assert 0 <= answer["score"] <= 100


def test_calls_are_counted_per_function_and_prompt_and_can_be_reset(client: TestClient) -> None:
    schema = SCHEMAS["anything"]
    chat(client, "optimizer", schema, {"n": 1})
    chat(client, "optimizer", schema, {"n": 1})
    chat(client, "optimizer", schema, {"n": 2})
    chat(client, "other", schema, {"n": 1})
    image = client.post("/v1/images/generations", json={"prompt": "a bin", "size": "16x16"})
    assert image.status_code == 200

    stats = client.get("/_stats/calls").json()
    assert stats["total"] == 5
    assert stats["by_function"] == {"image": 1, "optimizer": 3, "other": 1}
    assert stats["repeated"] == 1
    counts = sorted(
        ((c["function"], c["input"], c["count"]) for c in stats["calls"]), key=json.dumps
    )
    assert counts == [
        ("image", {"prompt": "a bin", "size": "16x16"}, 1),
        ("optimizer", {"n": 1}, 2),
        ("optimizer", {"n": 2}, 1),
        ("other", {"n": 1}, 1),
    ]
    only = client.get("/_stats/calls", params={"function": "optimizer"}).json()
    assert {c["function"] for c in only["calls"]} == {"optimizer"} and only["total"] == 3

    assert client.delete("/_stats/calls").json()["total"] == 0
    assert client.get("/_stats/calls").json()["calls"] == []


def test_injected_failures_are_counted_apart_from_answers(client: TestClient) -> None:
    client.post("/dev/faults", json={"next_failures": ["429", "refusal"]})
    schema = SCHEMAS["anything"]
    limited = client.post(
        "/v1/chat/completions",
        json={
            "messages": [],
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "x", "schema": schema},
            },
        },
    )
    assert limited.status_code == 429
    refused = chat(client, "x", schema, {})
    assert refused["choices"][0]["message"]["refusal"]
    chat(client, "x", schema, {})

    stats = client.get("/_stats/calls").json()
    assert stats["by_function"] == {"x": 1}
    assert stats["faults"] == {"x": {"429": 1, "refusal": 1}}


def test_a_familiar_schema_name_with_another_shape_gets_that_shape(client: TestClient) -> None:
    schema = strict(
        {"verdict": {"type": "string", "enum": ["keep", "rewrite"]}, "notes": {"type": "string"}}
    )
    answer = content(chat(client, "article", schema, {"idea": {"title": "Compost"}}))
    jsonschema.validate(answer, schema)


@pytest.mark.parametrize(
    "pattern",
    [
        r"^\d{3}-\d{4}$",
        r"^[a-z0-9]+(-[a-z0-9]+)*$",
        r"^#[0-9a-fA-F]{6}$",
        r"^(draft|publish|private)$",
        r"^v\d+\.\d+\.\d+$",
        r"^[A-Z]{2}[^a-z\s]+$",
        r"^\w+@\w+\.(com|org)$",
    ],
)
def test_patterned_strings_match_their_pattern(client: TestClient, pattern: str) -> None:
    schema = strict(
        {
            "code": {"type": "string", "pattern": pattern},
            "codes": {
                "type": "array",
                "items": {"type": "string", "pattern": pattern, "maxLength": 40},
            },
        }
    )
    answer = content(chat(client, "patterned", schema, {"title": "Compost bins"}))
    jsonschema.validate(answer, schema)


def test_the_latency_set_includes_composing_the_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    """A call takes the latency set in all: the server sleeps what composing left of it (it used
    to sleep the whole latency and then compose, so every call outlasted a bench's bound)."""
    from automation.devai import app as server
    from automation.devai.app import Faults

    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    monkeypatch.setattr(server.asyncio, "sleep", sleep)
    client = TestClient(create_app(Faults(latency_ms=200)))
    chat(client, "article", {"type": "object"}, {"keyphrase": "compost bin"})
    assert len(slept) == 1 and 0 < slept[0] < 0.2, slept
