"""Response models derived from the tables an answer is read from, so a column added to a table
shows in the service's OpenAPI document (and its drift check) without a hand-kept copy."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, create_model


def python_type(column: sa.ColumnElement[Any]) -> Any:
    kind = column.type
    if isinstance(kind, sa.Uuid) or kind.__class__.__name__ == "UUID":
        found: Any = uuid.UUID
    elif isinstance(kind, sa.DateTime):
        found = dt.datetime
    elif isinstance(kind, sa.Numeric) and not isinstance(kind, sa.Float):
        found = Decimal
    elif isinstance(kind, sa.Integer):
        found = int
    elif isinstance(kind, sa.Boolean):
        found = bool
    elif isinstance(kind, sa.Text | sa.String):
        found = str
    else:  # JSONB, arrays
        found = Any
    nullable = getattr(column, "nullable", True)
    return found | None if nullable and found is not Any else found


def row_model(
    name: str,
    columns: sa.Table | Iterable[sa.Column[Any]],
    leave_out: tuple[str, ...] = (),
    doc: str | None = None,
) -> type[BaseModel]:
    """A model with one required field per column (nullable columns allow null)."""
    listed = list(columns.columns) if isinstance(columns, sa.Table) else list(columns)
    table = columns.name if isinstance(columns, sa.Table) else listed[0].table.name
    fields: dict[str, Any] = {
        c.name: (python_type(c), ...) for c in listed if c.name not in leave_out
    }
    return create_model(name, __doc__=doc or f"One row of `{table}`.", **fields)
