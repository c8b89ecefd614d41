"""Keyword imports keep good rows, report bad ones by line, refuse unreadable files."""

from __future__ import annotations

import json

import pytest

from automation.domain.errors import UnreadableImport
from automation.domain.keywords import parse


def test_csv_rows_are_normalized_deduplicated_and_bad_ones_reported_by_line() -> None:
    body = (
        b"Keyword,Volume,Difficulty,CPC,Intent,Country\n"
        b"  Best   Compost Bin ,1200,35,$1.20,commercial,us\n"
        b"best compost bin,900,30,1.00,commercial,US\n"
        b",100,10,0.5,informational,US\n"
        b"raised bed soil,lots,20,0.4,informational,US\n"
        b"tomato cages,300,101,0.3,commercial,US\n"
        b"mulch,200,10,0.2,curious,US\n"
        b"drip irrigation kit,150,15,0.9,transactional,USA\n"
        b"herb garden ideas,800,12,0.1,informational,gb\n"
    )
    parsed = parse(body, "text/csv")
    assert [r.keyword for r in parsed.rows] == ["best compost bin", "herb garden ideas"]
    assert parsed.rows[0].cpc is not None and str(parsed.rows[0].cpc) == "1.20"
    assert parsed.rows[1].country == "GB"
    assert parsed.duplicates == 1
    reasons = {e["line"]: e["reason"] for e in parsed.errors}
    assert reasons == {
        4: "keyword is empty",
        5: "volume must be a whole number",
        6: "difficulty must be between 0 and 100",
        7: "intent must be one of commercial, informational, navigational, transactional",
        8: "country must be a two-letter code",
    }


def test_json_lists_of_strings_or_objects() -> None:
    body = json.dumps({"keywords": ["Compost", {"keyword": "mulch", "volume": 5}, 7]}).encode()
    parsed = parse(body, "application/json")
    assert [r.keyword for r in parsed.rows] == ["compost", "mulch"]
    assert parsed.errors == [{"line": 3, "reason": "expected an object or a string"}]


@pytest.mark.parametrize(
    ("body", "content_type", "fragment"),
    [
        (b"{not json", "application/json", "not valid JSON"),
        (b'{"words": []}', "application/json", "expected a JSON list"),
        (b"volume,cpc\n1,2\n", "text/csv", "`keyword` column"),
        (b"\xff\xfe\x00bad", "text/csv", "UTF-8"),
        (b"keyword\nx\n", "application/xml", "application/json or text/csv"),
    ],
)
def test_unreadable_files_are_refused_with_the_reason(
    body: bytes, content_type: str, fragment: str
) -> None:
    with pytest.raises(UnreadableImport, match=fragment):
        parse(body, content_type)


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("volume", 99999999999999999999, "volume"),
        ("volume", 99999999999999, "volume"),
        ("volume", "2147483648", "volume"),
        ("cpc", 123456789012.55, "cpc"),
        ("cpc", "NaN", "cpc"),
        ("cpc", "Infinity", "cpc"),
        ("volume", True, "volume"),
    ],
)
def test_a_value_beyond_its_column_is_that_rows_error_not_the_files(
    field: str, value: object, reason: str
) -> None:
    """Issue 12: these answered 500 (int32 / NUMERIC(10,2) overflow) and sank the whole file."""
    body = json.dumps(
        [{"keyword": "bad row", field: value}, {"keyword": "good row", "volume": 2147483647}]
    ).encode()
    parsed = parse(body, "application/json")
    assert [r.keyword for r in parsed.rows] == ["good row"]
    assert [e["line"] for e in parsed.errors] == [1]
    assert reason in parsed.errors[0]["reason"]


def test_a_huge_volume_in_a_csv_is_reported_on_its_line() -> None:
    body = b"keyword,volume,cpc\nfine,10,1.5\nhuge,99999999999999999999,1\nrich,1,123456789012.55\n"
    parsed = parse(body, "text/csv")
    assert [r.keyword for r in parsed.rows] == ["fine"]
    assert {e["line"] for e in parsed.errors} == {3, 4}


def test_a_csv_the_csv_module_cannot_read_is_refused_not_a_server_error() -> None:
    """Found by the API fuzzer (a 500): a bare CR inside an unquoted field, and a field past the
    csv module's size limit, raised csv.Error out of the parser."""
    bare_cr = parse(b"keyword,volume\r\nblue\rshoes,10\n", "text/csv")
    assert [r.keyword for r in bare_cr.rows] == ["blue", "shoes"], "a CR on its own ends a line"
    with pytest.raises(UnreadableImport):
        parse(b'keyword\n"' + b"x" * 200_000 + b'"\n', "text/csv")
    fuzzed = b"\xf2\xa1\x98\xb3\xc2\x8e\xc2\xb3\xc3\x9d3+\x1c\xc3\xab\r\xf0\xb3\x82\xae\x04l\x02"
    with pytest.raises(UnreadableImport):  # the fuzzer's body: no `keyword` header
        parse(fuzzed, "text/csv")


def test_a_lone_cr_in_the_header_line_is_a_line_end() -> None:
    """Found by the HTTP fuzzer: a lone CR inside the header line raised csv.Error (a 500)."""
    parsed = parse(b"keyword\rcompost bin\r\nmulch\n", "text/csv")
    assert [r.keyword for r in parsed.rows] == ["compost bin", "mulch"]
