"""Async SQLAlchemy plumbing shared by every service."""

from igny8.db.engine import create_engine, session_factory
from igny8.db.metadata import NAMING_CONVENTION, new_metadata
from igny8.db.unit_of_work import MessageContext, SqlAlchemyUnitOfWork

__all__ = [
    "NAMING_CONVENTION",
    "MessageContext",
    "SqlAlchemyUnitOfWork",
    "create_engine",
    "new_metadata",
    "session_factory",
]
