"""Keyword imports: JSON or CSV rows → normalized keywords, with bad rows reported by line."""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from automation.domain.errors import UnreadableImport

INTENTS = {"informational", "commercial", "transactional", "navigational"}
MAX_ROWS = 50_000
MAX_BYTES = 10 * 1024 * 1024
"""An import's body (50,000 rows of keyword, metrics and intent fit with room to spare)."""
MAX_VOLUME = 2_147_483_647
"""`volume` is an INTEGER column: a larger number is that row's error, never the file's."""
MAX_CPC = Decimal("99999999.99")
"""`cpc` is NUMERIC(10, 2)."""


@dataclass(frozen=True)
class KeywordRow:
    keyword: str
    volume: int | None = None
    difficulty: int | None = None
    cpc: Decimal | None = None
    intent: str | None = None
    country: str | None = None


@dataclass
class ParsedImport:
    rows: list[KeywordRow] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    duplicates: int = 0


def normalize(keyword: str) -> str:
    return re.sub(r"\s+", " ", keyword.strip().lower())


def _int(value: Any, name: str, low: int, high: int | None = None) -> int | None:
    if value in (None, ""):
        return None
    if isinstance(value, (bool, dict, list)):
        raise ValueError(f"{name} must be a whole number")
    text = str(value).replace(",", "").strip()
    if len(text) > 30:
        raise ValueError(f"{name} is too large")
    try:
        number = int(text)
    except ValueError:
        raise ValueError(f"{name} must be a whole number") from None
    if number < low or (high is not None and number > high):
        raise ValueError(
            f"{name} must be between {low} and {high}"
            if high is not None
            else f"{name} must be >= {low}"
        )
    return number


def _row(raw: dict[str, Any]) -> KeywordRow:
    lowered = {str(k).strip().lower(): v for k, v in raw.items() if k is not None}
    keyword = normalize(str(lowered.get("keyword") or ""))
    if not keyword:
        raise ValueError("keyword is empty")
    if len(keyword) > 200:
        raise ValueError("keyword is longer than 200 characters")
    cpc = lowered.get("cpc")
    try:
        cpc_value = None if cpc in (None, "") else Decimal(str(cpc).strip().lstrip("$")[:40])
    except InvalidOperation:
        raise ValueError("cpc must be a number") from None
    if isinstance(cpc, bool) or (cpc_value is not None and not cpc_value.is_finite()):
        raise ValueError("cpc must be a number")
    if cpc_value is not None and cpc_value < 0:
        raise ValueError("cpc must not be negative")
    if cpc_value is not None and cpc_value > MAX_CPC:
        raise ValueError(f"cpc must be at most {MAX_CPC}")
    if cpc_value is not None:
        cpc_value = cpc_value.quantize(Decimal("0.01"))
    intent = (str(lowered.get("intent") or "").strip().lower()) or None
    if intent is not None and intent not in INTENTS:
        raise ValueError(f"intent must be one of {', '.join(sorted(INTENTS))}")
    country = (str(lowered.get("country") or "").strip().upper()) or None
    if country is not None and not re.fullmatch(r"[A-Z]{2}", country):
        raise ValueError("country must be a two-letter code")
    return KeywordRow(
        keyword,
        _int(lowered.get("volume"), "volume", 0, MAX_VOLUME),
        _int(lowered.get("difficulty"), "difficulty", 0, 100),
        cpc_value,
        intent,
        country,
    )


def parse(body: bytes, content_type: str) -> ParsedImport:
    """Good rows are kept, bad rows reported with line and reason; an unreadable file raises."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UnreadableImport("the file is not UTF-8 text") from None
    if "json" in content_type:
        try:
            document = json.loads(text)
        except json.JSONDecodeError as exc:
            raise UnreadableImport(f"not valid JSON: {exc.msg} at line {exc.lineno}") from None
        items = document.get("keywords") if isinstance(document, dict) else document
        if not isinstance(items, list):
            raise UnreadableImport('expected a JSON list of keywords or {"keywords": [...]}')
        numbered = [
            (n + 1, i if isinstance(i, dict) else {"keyword": i} if isinstance(i, str) else None)
            for n, i in enumerate(items)
        ]
    elif "csv" in content_type or "text/plain" in content_type:
        # newline="": the csv module reads line ends itself (a bare CR inside a field is then
        # a line end, not an error); what it still cannot read is an unreadable file, not a 500
        reader = csv.DictReader(io.StringIO(text, newline=""))
        try:
            fields = reader.fieldnames
            if not fields or "keyword" not in [f.strip().lower() for f in fields]:
                raise UnreadableImport("the CSV needs a header row with a `keyword` column")
            numbered = [(reader.line_num, dict(r)) for r in reader]
        except csv.Error as exc:
            raise UnreadableImport(f"not readable as CSV: {exc}") from None
    else:
        raise UnreadableImport("send application/json or text/csv")
    if len(numbered) > MAX_ROWS:
        raise UnreadableImport(f"at most {MAX_ROWS} keywords per import")
    result = ParsedImport()
    seen: set[str] = set()
    for line, raw in numbered:
        if raw is None:
            result.errors.append({"line": line, "reason": "expected an object or a string"})
            continue
        try:
            row = _row(raw)
        except ValueError as exc:
            result.errors.append({"line": line, "reason": str(exc)})
            continue
        if row.keyword in seen:
            result.duplicates += 1
            continue
        seen.add(row.keyword)
        result.rows.append(row)
    return result
