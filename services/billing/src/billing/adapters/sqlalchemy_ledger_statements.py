"""Multi-row statements of a ledger batch: each column travels as one array parameter.

One statement and one set of parameters whatever the number of rows (each array travels as one
text literal, `igny8.db.arrays`; SQLAlchemy compiles and processes parameters once, not once per
row as an executemany does).
Rows keep the order given (`WITH ORDINALITY`), so identity columns (the ledger's `seq`) follow it.
JSONB values travel as text and are cast; None is SQL NULL.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from igny8.db.arrays import array_param, array_text


@dataclass(frozen=True)
class Rows:
    statement: Any
    types: tuple[str, ...]
    """Each column's PostgreSQL type: it picks the column's encoder."""

    @property
    def columns(self) -> int:
        return len(self.types)


# Each column's values → one PostgreSQL array literal, by the column's type: a column is all of
# one type, so the per-element type dispatch of `array_text` is skipped (that encoding was a
# fifth of billing's CPU per command in bench/billing_ledger.py). The server parses the same
# values: a uuid as 32 hex digits (one formatting instead of `str`'s two), a timestamp in ISO
# 8601 (never naive), text and JSON quoted and escaped.


def _uuids(values: Sequence[Any]) -> str:
    return "{" + ",".join(["NULL" if v is None else f"{v.int:032x}" for v in values]) + "}"


def _integers(values: Sequence[Any]) -> str:
    return "{" + ",".join(["NULL" if v is None else str(v) for v in values]) + "}"


def _booleans(values: Sequence[Any]) -> str:
    return "{" + ",".join(["NULL" if v is None else "t" if v else "f" for v in values]) + "}"


def _texts(values: Sequence[Any]) -> str:
    # `replace` on a str-valued Enum works on its value, which is what is stored.
    quoted = [
        "NULL"
        if v is None
        else '"'
        + (v if isinstance(v, str) else str(v)).replace("\\", "\\\\").replace('"', '\\"')
        + '"'
        for v in values
    ]
    return "{" + ",".join(quoted) + "}"


def _timestamp(value: datetime) -> str:
    if value.tzinfo is None:
        raise ValueError("a naive datetime has no place in a timestamptz array")
    return value.isoformat()


def _timestamps(values: Sequence[Any]) -> str:
    return "{" + ",".join(["NULL" if v is None else _timestamp(v) for v in values]) + "}"


_ENCODERS: dict[str, Callable[[Sequence[Any]], str]] = {
    "uuid": _uuids,
    "bigint": _integers,
    "smallint": _integers,
    "boolean": _booleans,
    "text": _texts,
    "jsonb": _texts,  # sent as text, cast in the statement
    "timestamptz": _timestamps,
}


def encode(pg_type: str, values: Sequence[Any]) -> str:
    """One column as a PostgreSQL array literal (types without an encoder: `array_text`)."""
    encoder = _ENCODERS.get(pg_type)
    return encoder(values) if encoder is not None else array_text(values)


def _array(n: int, pg_type: str) -> str:
    # Each column travels as one text literal (far cheaper for asyncpg than element by element).
    return array_param(f"p{n}", "text" if pg_type == "jsonb" else pg_type)


def _value(name: str, pg_type: str) -> str:
    return f"CAST(r.{name} AS jsonb)" if pg_type == "jsonb" else f"r.{name}"


def unnest_insert(table: str, columns: Sequence[tuple[str, str]], on_conflict: str = "") -> Rows:
    names = [c for c, _ in columns]
    arrays = ", ".join(_array(n, t) for n, (_, t) in enumerate(columns))
    values = ", ".join(_value(c, t) for c, t in columns)
    return Rows(
        sa.text(
            f"INSERT INTO {table} ({', '.join(names)}) SELECT {values} FROM unnest({arrays}) "
            f"WITH ORDINALITY AS r({', '.join(names)}, n) ORDER BY n{on_conflict}"
        ),
        tuple(t for _, t in columns),
    )


def unnest_update(
    table: str, keys: Sequence[tuple[str, str]], sets: Sequence[tuple[str, str]]
) -> Rows:
    columns = [*keys, *sets]
    names = [c for c, _ in columns]
    arrays = ", ".join(_array(n, t) for n, (_, t) in enumerate(columns))
    # A JSONB value left None keeps what the row has (an end outcome is set once).
    assignments = ", ".join(
        f"{c} = COALESCE({_value(c, t)}, {table}.{c})" if t == "jsonb" else f"{c} = r.{c}"
        for c, t in sets
    )
    match = " AND ".join(f"{table}.{c} = r.{c}" for c, _ in keys)
    return Rows(
        sa.text(
            f"UPDATE {table} SET {assignments} FROM unnest({arrays}) AS r({', '.join(names)}) "
            f"WHERE {match}"
        ),
        tuple(t for _, t in columns),
    )


def bound(rows: Rows, values: list[tuple[Any, ...]]) -> tuple[str, dict[str, Any]] | None:
    """`rows` for `values` (tuples in column order) as SQL and parameters; None for no rows."""
    if not values:
        return None
    columns = list(zip(*values, strict=True))
    assert len(columns) == rows.columns
    typed = zip(rows.types, columns, strict=True)
    arrays = {f"p{n}": encode(t, c) for n, (t, c) in enumerate(typed)}
    return rows.statement.text, arrays


async def run(session: AsyncSession, rows: Rows, values: list[tuple[Any, ...]]) -> None:
    """Execute `rows` for `values` (tuples in column order); nothing for no rows."""
    part = bound(rows, values)
    if part is not None:
        await session.execute(rows.statement, part[1])


_PARAMETER = re.compile(r"(?<![:\w]):(\w+)")
_TOGETHER: dict[tuple[str, ...], Any] = {}


async def run_together(
    session: AsyncSession,
    parts: Sequence[tuple[str, dict[str, Any]] | None],
    final: str = "SELECT 1",
) -> None:
    """Every part in one statement — one round trip instead of one per table: each becomes a
    data-modifying WITH query (PostgreSQL runs each exactly once, whether or not it is referenced)
    and `final` the main query. They share one snapshot, so no part may need to see another's
    rows or change a row another changes: the batch writes new and changed rows of a table in
    different parts (a reservation is inserted or updated, never both). Foreign keys between parts
    are checked at the end of the statement, when every part's rows are there."""
    present = [p for p in parts if p is not None]
    if not present:
        return
    params: dict[str, Any] = {}
    for i, (_, values) in enumerate(present):
        params.update({f"s{i}_{name}": value for name, value in values.items()})
    key = (*(sql for sql, _ in present), final)
    statement = _TOGETHER.get(key)
    if statement is None:  # a handful of shapes (which tables a batch writes): compiled once each
        ctes = ", ".join(
            f"s{i} AS ({_PARAMETER.sub(lambda m, i=i: f':s{i}_{m.group(1)}', sql)})"  # type: ignore[misc]
            for i, (sql, _) in enumerate(present)
        )
        statement = _TOGETHER.setdefault(key, sa.text(f"WITH {ctes} {final}"))
    await session.execute(statement, params)


UPDATE_ACCOUNTS = unnest_update(
    "billing_accounts",
    [("account_id", "uuid")],
    [("available", "bigint"), ("held", "bigint"), ("low_balance_alerted", "boolean")],
)
INSERT_TRANSACTIONS = unnest_insert(
    "ledger_transactions",
    [
        ("transaction_id", "uuid"),
        ("account_id", "uuid"),
        ("kind", "text"),
        ("reference", "text"),
        ("created_at", "timestamptz"),
    ],
)
INSERT_ENTRIES = unnest_insert(
    "ledger_entries",
    [
        ("transaction_id", "uuid"),
        ("account_id", "uuid"),
        ("book", "text"),
        ("grant_id", "uuid"),
        ("amount", "bigint"),
        ("balance_after", "bigint"),
        ("created_at", "timestamptz"),
    ],
)
INSERT_RESERVATIONS = unnest_insert(
    "reservations",
    [
        ("reservation_id", "uuid"),
        ("account_id", "uuid"),
        ("status", "text"),
        ("credits", "bigint"),
        ("captured", "bigint"),
        ("released", "bigint"),
        ("expires_at", "timestamptz"),
        ("request_hash", "text"),
        ("prices", "jsonb"),
        ("run_id", "uuid"),
        ("outcome_topic", "text"),
        ("outcome", "jsonb"),
        ("end_outcome", "jsonb"),
        ("created_at", "timestamptz"),
        ("ended_at", "timestamptz"),
    ],
)
UPSERT_GRANTS = unnest_insert(
    "grants",
    [
        ("grant_id", "uuid"),
        ("account_id", "uuid"),
        ("kind", "text"),
        ("credits", "bigint"),
        ("available", "bigint"),
        ("held", "bigint"),
        ("expires_at", "timestamptz"),
        ("swept", "boolean"),
        ("created_at", "timestamptz"),
    ],
    " ON CONFLICT (grant_id) DO UPDATE SET available = EXCLUDED.available,"
    " held = EXCLUDED.held, expires_at = EXCLUDED.expires_at, swept = EXCLUDED.swept",
)
INSERT_TOMBSTONES = unnest_insert(
    "release_tombstones",
    [("account_id", "uuid"), ("reservation_id", "uuid")],
    " ON CONFLICT DO NOTHING",
)
INSERT_HOLDS = unnest_insert(
    "reservation_holds", [("reservation_id", "uuid"), ("grant_id", "uuid"), ("amount", "bigint")]
)
UPDATE_RESERVATIONS = unnest_update(
    "reservations",
    [("reservation_id", "uuid")],
    [
        ("status", "text"),
        ("captured", "bigint"),
        ("released", "bigint"),
        ("ended_at", "timestamptz"),
        ("end_outcome", "jsonb"),
    ],
)
UPDATE_HOLDS = unnest_update(
    "reservation_holds", [("reservation_id", "uuid"), ("grant_id", "uuid")], [("amount", "bigint")]
)
INSERT_CAPTURES = unnest_insert(
    "captures",
    [
        ("commit_id", "uuid"),
        ("reservation_id", "uuid"),
        ("account_id", "uuid"),
        ("request_hash", "text"),
        ("outcome", "jsonb"),
    ],
)
INSERT_USAGE = unnest_insert(
    "usage_log",
    [
        ("account_id", "uuid"),
        ("reservation_id", "uuid"),
        ("commit_id", "uuid"),
        ("operation", "text"),
        ("quantity", "bigint"),
        ("credits", "bigint"),
        ("model", "text"),
        ("input_tokens", "bigint"),
        ("output_tokens", "bigint"),
        ("provider_cost_usd", "numeric"),
        ("run_id", "uuid"),
        ("stage", "smallint"),
        ("item_id", "text"),
        ("created_at", "timestamptz"),
    ],
)
