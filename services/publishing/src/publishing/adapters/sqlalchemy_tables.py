"""The publishing database schema (SQLAlchemy Core tables)."""

from __future__ import annotations

from igny8.db import new_metadata
from igny8.messaging import include_messaging_tables

metadata = new_metadata()
include_messaging_tables(metadata)
