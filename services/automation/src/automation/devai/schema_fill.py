"""Answers for any JSON schema the server has no dedicated generator for (publishing's optimizer,
future functions): valid against the schema, and plausible where a property's name says what it is.

- A property whose name matches a field of the request's input, and whose value fits, is echoed
  back (a model "improving" an article returns the article's fields).
- Names say what a string is: `*html*` gets markup, `slug` a slug, `url` a URL, `title` a title,
  `description`/`summary`/`reason` a sentence; formats (date-time, email, uuid, uri…) are honoured.
- Structure follows the keywords that matter for validity: `$ref`/`$defs`/`definitions`, `allOf`,
  `anyOf`/`oneOf`, `const`, `enum`, type lists, required and every listed property, min/max items,
  unique items, `prefixItems`, lengths, bounds, `multipleOf`, simple patterns.
The result is checked with `jsonschema`; if a name-based guess broke a constraint, the answer is
rebuilt from the structure alone.
"""

from __future__ import annotations

import math
import random
import re
import uuid
from typing import Any

import jsonschema

from automation.devai.regex_sample import sample
from automation.devai.text import slugify, title_case

WORDS = [
    "clear",
    "practical",
    "steady",
    "simple",
    "useful",
    "careful",
    "balanced",
    "reliable",
    "thoughtful",
    "focused",
    "guide",
    "plan",
    "result",
    "method",
    "approach",
    "detail",
    "example",
    "summary",
    "outline",
    "section",
    "reader",
]
_MAX_DEPTH = 40


def fill(schema: dict[str, Any], data: dict[str, Any], rng: random.Random) -> Any:
    named = _Filler(schema, data, rng, by_name=True).value(schema, "", 0)
    if _valid(named, schema):
        return named
    return _Filler(schema, data, rng, by_name=False).value(schema, "", 0)


def _valid(value: Any, schema: dict[str, Any]) -> bool:
    try:
        jsonschema.validate(value, schema)
    except (jsonschema.ValidationError, jsonschema.SchemaError):
        return False
    return True


class _Filler:
    def __init__(
        self, root: dict[str, Any], data: dict[str, Any], rng: random.Random, by_name: bool
    ) -> None:
        self.root = root
        self.rng = rng
        self.by_name = by_name
        self.inputs = _flatten(data)

    def _resolve(self, ref: str) -> dict[str, Any]:
        node: Any = self.root
        for part in ref.lstrip("#").strip("/").split("/"):
            if part:
                node = node[part.replace("~1", "/").replace("~0", "~")]
        return node  # type: ignore[no-any-return]

    def value(self, schema: Any, name: str, depth: int) -> Any:
        if not isinstance(schema, dict):
            return None if schema is False else "ok"
        if "$ref" in schema:
            rest = {k: v for k, v in schema.items() if k != "$ref"}
            return self.value({**self._resolve(schema["$ref"]), **rest}, name, depth + 1)
        if "allOf" in schema:
            merged = {k: v for k, v in schema.items() if k != "allOf"}
            for part in schema["allOf"]:
                part = self._resolve(part["$ref"]) if "$ref" in part else part
                merged = _merge(merged, part)
            return self.value(merged, name, depth)
        for combinator in ("oneOf", "anyOf"):
            if combinator in schema:
                options = schema[combinator]
                chosen = next((o for o in options if o.get("type") != "null"), options[0])
                rest = {k: v for k, v in schema.items() if k != combinator}
                return self.value(_merge(rest, chosen), name, depth)
        if "const" in schema:
            return schema["const"]
        if "enum" in schema:
            return self.rng.choice(schema["enum"])
        if self.by_name and name in self.inputs and _valid(self.inputs[name], schema):
            return self.inputs[name]
        kind = _kind(schema)
        if kind == "object":
            return self._object(schema, depth)
        if kind == "array":
            return self._array(schema, name, depth)
        if kind == "integer":
            return int(self._number(schema, integer=True))
        if kind == "number":
            return self._number(schema, integer=False)
        if kind == "boolean":
            return True
        if kind == "null":
            return None
        return self._string(schema, name)

    def _object(self, schema: dict[str, Any], depth: int) -> dict[str, Any]:
        if depth > _MAX_DEPTH:  # a schema that requires itself forever has no finite answer
            return {}
        props: dict[str, Any] = schema.get("properties", {})
        result = {key: self.value(sub, key, depth + 1) for key, sub in props.items()}
        extra = schema.get("additionalProperties")
        needed = max(schema.get("minProperties", 0) - len(result), 0)
        for n in range(needed):
            result[f"item_{n + 1}"] = self.value(
                extra if isinstance(extra, dict) else {}, "", depth
            )
        for key in schema.get("required", []):
            result.setdefault(key, "ok")
        return result

    def _array(self, schema: dict[str, Any], name: str, depth: int) -> list[Any]:
        prefix = schema.get("prefixItems", [])
        low = int(schema.get("minItems", 0))
        high = int(schema.get("maxItems", max(low, 3)))
        if schema.get("items") is False:  # a tuple: exactly the prefix
            high = min(high, len(prefix))
        # A few items near the top; only the minimum deeper down, which ends recursive schemas.
        wanted = max(len(prefix), 2) if depth <= 4 else 0
        count = min(high, max(low, wanted))
        items: list[Any] = []
        for index in range(count):
            sub = prefix[index] if index < len(prefix) else schema.get("items", {})
            singular = name[:-1] if name.endswith("s") else name
            value = self.value(sub, singular, depth + 1)
            if schema.get("uniqueItems") and value in items:
                value = _vary(value, index)
            items.append(value)
        return items

    def _number(self, schema: dict[str, Any], integer: bool) -> float:
        low = float(schema.get("minimum", schema.get("exclusiveMinimum", 0)))
        high = float(schema.get("maximum", schema.get("exclusiveMaximum", max(low, 0) + 100)))
        step = float(schema.get("multipleOf") or 0)
        if "exclusiveMinimum" in schema and "minimum" not in schema:
            low = low + (1 if integer else (step or 0.01))
        if "exclusiveMaximum" in schema and "maximum" not in schema:
            high = high - (1 if integer else (step or 0.01))
        share = self.rng.uniform(0.55, 0.85)
        if step:
            first, last = math.ceil(low / step), math.floor(high / step)
            value = (first + int((last - first) * share)) * step
            return float(int(value)) if integer else value
        value = low + (high - low) * share
        return float(math.floor(value)) if integer else round(value, 2)

    def _string(self, schema: dict[str, Any], name: str) -> str:
        fmt = schema.get("format")
        text = _formatted(fmt, self.rng) if fmt else None
        if text is None and self.by_name:
            text = self._named(name)
        if text is None:
            text = " ".join(self.rng.choice(WORDS) for _ in range(4)).capitalize()
        pattern = schema.get("pattern")
        if pattern and not re.search(pattern, text):
            text = _matching(pattern, text)
        low, high = schema.get("minLength", 0), schema.get("maxLength")
        while len(text) < low:
            text += " " + self.rng.choice(WORDS)
        if high is not None and len(text) > high:
            text = text[:high].rstrip() or text[:high]
        if pattern and not re.search(pattern, text):  # the length fix broke it: shortest match
            text = sample(pattern) or text
        return text

    def _named(self, name: str) -> str | None:
        lowered = name.lower()
        title = str(self.inputs.get("title") or self.inputs.get("name") or "Practical guide")
        if "html" in lowered:
            body = self.inputs.get("html")
            return str(body) if body else f"<h2>{title}</h2>\n<p>{_sentence(self.rng)}</p>"
        if lowered == "slug" or lowered.endswith("_slug"):
            return slugify(title)
        if lowered in ("url", "link", "href") or lowered.endswith(("_url", "_link")):
            return f"https://example.com/{slugify(title)}"
        if "title" in lowered or "headline" in lowered or lowered == "name":
            return title_case(title)[:60]
        if lowered in ("language", "lang", "locale"):
            return "en"
        if lowered.endswith("keyword") or lowered == "keyphrase":
            return str(self.inputs.get("keyword") or title.lower())
        prose = ("description", "summary", "reason", "explanation", "rationale", "feedback")
        if any(word in lowered for word in (*prose, "suggestion", "text", "message", "note")):
            return _sentence(self.rng)
        return None


def _kind(schema: dict[str, Any]) -> str:
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind is None:
        if "properties" in schema:
            return "object"
        if "items" in schema or "prefixItems" in schema:
            return "array"
        return "string"
    return str(kind)


def _merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    merged = {**a, **b}
    if "properties" in a and "properties" in b:
        merged["properties"] = {**a["properties"], **b["properties"]}
    if "required" in a and "required" in b:
        merged["required"] = list(dict.fromkeys([*a["required"], *b["required"]]))
    return merged


def _flatten(data: Any, into: dict[str, Any] | None = None) -> dict[str, Any]:
    """Every named field of the input, outermost first (`idea.title` is also `title`)."""
    into = {} if into is None else into
    if isinstance(data, dict):
        for key, value in data.items():
            into.setdefault(str(key), value)
        for value in data.values():
            _flatten(value, into)
    return into


def _formatted(fmt: str, rng: random.Random) -> str | None:
    known = {
        "date-time": "2026-01-15T09:30:00Z",
        "date": "2026-01-15",
        "time": "09:30:00Z",
        "email": "editor@example.com",
        "uri": "https://example.com/article",
        "url": "https://example.com/article",
        "uri-reference": "/article",
        "hostname": "example.com",
        "ipv4": "192.0.2.10",
        "ipv6": "2001:db8::10",
        "uuid": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "duration": "P1D",
    }
    return known.get(fmt)


def _matching(pattern: str, text: str) -> str:
    """A value for a pattern: the text reshaped (slug, case, letters) if that fits, else the
    shortest string the pattern itself describes."""
    for candidate in (
        slugify(text),
        text.lower(),
        text.upper(),
        re.sub(r"[^A-Za-z]", "", text),
    ):
        if re.search(pattern, candidate):
            return candidate
    return sample(pattern) or text


def _vary(value: Any, index: int) -> Any:
    if isinstance(value, str):
        return f"{value} {index + 1}"
    if isinstance(value, bool):
        return not value
    if isinstance(value, int | float):
        return value + index + 1
    return value


def _sentence(rng: random.Random) -> str:
    openers = (
        "This keeps the text clear and focused on what the reader needs.",
        "The change makes the main point easier to find and act on.",
        "Readers get a direct answer first and the supporting detail after.",
        "It follows the brief and keeps the tone practical and specific.",
    )
    return rng.choice(openers)
