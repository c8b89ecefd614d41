"""Array parameters as one text literal: `CAST(CAST(:p AS text) AS uuid[])` with `array_text(ids)`.

asyncpg encodes a list parameter element by element, and checks each element against three
abstract base classes first (is it a nested array?): on the multi-row statements of the outbox, the
inbox claim, the relay and billing's ledger batch that was the largest single CPU cost in the
profiles (some 14% of billing's worker). One string in PostgreSQL's array syntax costs a fraction
of that, and the server parses it into the same values.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from enum import Enum

from asyncpg.pgproto.pgproto import UUID as _PgUUID

# Types whose `str` is already the element's text (asyncpg returns its own, faster uuid type).
_PLAIN = frozenset({uuid.UUID, _PgUUID, int})


def _element(value: object) -> str:
    if value is None:
        return "NULL"
    if type(value) is int or type(value) is uuid.UUID:
        return str(value)
    if isinstance(value, str):
        text = str.__str__(value)  # a str-valued Enum: its value, as asyncpg would send it
    elif isinstance(value, bool | int):
        text = str(int(value)) if not isinstance(value, bool) else ("t" if value else "f")
    elif isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("a naive datetime has no place in a timestamptz array")
        text = value.isoformat()
    elif isinstance(value, bytes | bytearray | memoryview | Enum):
        raise TypeError(f"{type(value).__name__} values are not sent as array text")
    else:
        text = str(value)  # uuid subclasses, Decimal, …
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def array_text(values: Iterable[object]) -> str:
    """PostgreSQL array input for `values` (one dimension; None is NULL, strings are quoted)."""
    # The common types inline, the rest through `_element` (same text either way): a function
    # call per element was most of the encoding's cost (billing's ledger batch sends ~40
    # elements per command).
    out: list[str] = []
    add = out.append
    for value in values:
        kind = type(value)
        if kind in _PLAIN:
            add(str(value))
        elif kind is str:
            add('"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"')  # type: ignore[attr-defined]
        elif value is None:
            add("NULL")
        else:
            add(_element(value))
    return "{" + ",".join(out) + "}"


def array_param(name: str, pg_type: str) -> str:
    """The SQL for an array parameter sent as text: `CAST(CAST(:name AS text) AS type[])`."""
    return f"CAST(CAST(:{name} AS text) AS {pg_type}[])"
