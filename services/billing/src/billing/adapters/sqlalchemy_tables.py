"""The billing database schema (SQLAlchemy Core tables)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB, UUID

from igny8.db import new_metadata
from igny8.messaging import include_messaging_tables

metadata = new_metadata()
include_messaging_tables(metadata)


def _created_at() -> sa.Column[object]:
    return sa.Column(
        "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    )


billing_accounts = sa.Table(
    "billing_accounts",
    metadata,
    sa.Column("account_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("available", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("held", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("low_balance_threshold", sa.BigInteger, nullable=True),
    sa.Column("low_balance_alerted", sa.Boolean, nullable=False, server_default=sa.false()),
    _created_at(),
    sa.CheckConstraint("available >= 0", name="available_not_negative"),
    sa.CheckConstraint("held >= 0", name="held_not_negative"),
    sa.CheckConstraint(
        "low_balance_threshold IS NULL OR low_balance_threshold >= 0", name="threshold"
    ),
)

grants = sa.Table(
    "grants",
    metadata,
    sa.Column("grant_id", UUID(as_uuid=True), primary_key=True),
    sa.Column(
        "account_id",
        UUID(as_uuid=True),
        sa.ForeignKey("billing_accounts.account_id"),
        nullable=False,
    ),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("credits", sa.BigInteger, nullable=False),
    sa.Column("available", sa.BigInteger, nullable=False),
    sa.Column("held", sa.BigInteger, nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("swept", sa.Boolean, nullable=False, server_default=sa.false()),
    _created_at(),
    sa.CheckConstraint("kind IN ('paid', 'plan', 'promo')", name="kind"),
    sa.CheckConstraint("credits > 0", name="credits_positive"),
    sa.CheckConstraint("available >= 0 AND held >= 0", name="balances_not_negative"),
    sa.CheckConstraint("available + held <= credits", name="within_grant"),
)
sa.Index("ix_grants_live", grants.c.account_id, postgresql_where=sa.text("NOT swept OR held > 0"))
sa.Index("ix_grants_lapsing", grants.c.expires_at, postgresql_where=sa.text("NOT swept"))

grant_keys = sa.Table(
    "grant_keys",
    metadata,
    sa.Column("account_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("idempotency_key", sa.Text, primary_key=True),
    sa.Column("grant_id", UUID(as_uuid=True), sa.ForeignKey("grants.grant_id"), nullable=False),
    sa.Column("request_hash", sa.Text, nullable=False),
)

ledger_transactions = sa.Table(
    "ledger_transactions",
    metadata,
    sa.Column("transaction_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("seq", sa.BigInteger, sa.Identity(), nullable=False, unique=True),
    sa.Column("account_id", UUID(as_uuid=True), nullable=False),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("reference", sa.Text, nullable=False),
    _created_at(),
)
sa.Index(
    "ix_ledger_transactions_account", ledger_transactions.c.account_id, ledger_transactions.c.seq
)

ledger_entries = sa.Table(
    "ledger_entries",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column(
        "transaction_id",
        UUID(as_uuid=True),
        sa.ForeignKey("ledger_transactions.transaction_id"),
        nullable=False,
    ),
    sa.Column("account_id", UUID(as_uuid=True), nullable=False),
    sa.Column("book", sa.Text, nullable=False),
    sa.Column("grant_id", UUID(as_uuid=True), nullable=True),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("balance_after", sa.BigInteger, nullable=True),
    _created_at(),
    sa.CheckConstraint("amount <> 0", name="amount_not_zero"),
)
sa.Index("ix_ledger_entries_transaction", ledger_entries.c.transaction_id)
sa.Index("ix_ledger_entries_account_book", ledger_entries.c.account_id, ledger_entries.c.book)

reservations = sa.Table(
    "reservations",
    metadata,
    sa.Column("reservation_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("account_id", UUID(as_uuid=True), nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("credits", sa.BigInteger, nullable=False),
    sa.Column("captured", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("released", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("request_hash", sa.Text, nullable=False),
    sa.Column("prices", JSONB, nullable=False),
    sa.Column("run_id", UUID(as_uuid=True), nullable=True),
    sa.Column("outcome_topic", sa.Text, nullable=False),
    sa.Column("outcome", JSONB, nullable=False),
    sa.Column("end_outcome", JSONB, nullable=True),
    _created_at(),
    sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint(
        "status IN ('active', 'captured', 'released', 'expired', 'rejected')", name="status"
    ),
    sa.CheckConstraint(
        "captured >= 0 AND released >= 0 AND captured + released <= credits", name="within_hold"
    ),
    sa.CheckConstraint("(status = 'active') = (ended_at IS NULL)", name="ended_once"),
)
sa.Index(
    "ix_reservations_due", reservations.c.expires_at, postgresql_where=sa.text("status = 'active'")
)
sa.Index("ix_reservations_account", reservations.c.account_id)

reservation_holds = sa.Table(
    "reservation_holds",
    metadata,
    sa.Column(
        "reservation_id",
        UUID(as_uuid=True),
        sa.ForeignKey("reservations.reservation_id"),
        primary_key=True,
    ),
    sa.Column("grant_id", UUID(as_uuid=True), sa.ForeignKey("grants.grant_id"), primary_key=True),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.CheckConstraint("amount >= 0", name="amount_not_negative"),
)

# A release that arrived before its reserve (they travel on different topics). Kept as long as
# the reservations' stored outcomes, so the reserve that follows is refused `released` however late.
release_tombstones = sa.Table(
    "release_tombstones",
    metadata,
    sa.Column("reservation_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("account_id", UUID(as_uuid=True), primary_key=True),
    _created_at(),
)


captures = sa.Table(
    "captures",
    metadata,
    sa.Column("commit_id", UUID(as_uuid=True), primary_key=True),
    sa.Column(
        "reservation_id",
        UUID(as_uuid=True),
        sa.ForeignKey("reservations.reservation_id"),
        nullable=False,
    ),
    sa.Column("account_id", UUID(as_uuid=True), nullable=False),
    sa.Column("request_hash", sa.Text, nullable=False),
    sa.Column("outcome", JSONB, nullable=False),
    _created_at(),
)

usage_log = sa.Table(
    "usage_log",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("account_id", UUID(as_uuid=True), nullable=False),
    sa.Column("reservation_id", UUID(as_uuid=True), nullable=False),
    sa.Column("commit_id", UUID(as_uuid=True), nullable=False, unique=True),
    sa.Column("operation", sa.Text, nullable=False),
    sa.Column("quantity", sa.BigInteger, nullable=False),
    sa.Column("credits", sa.BigInteger, nullable=False),
    sa.Column("model", sa.Text, nullable=True),
    sa.Column("input_tokens", sa.BigInteger, nullable=True),
    sa.Column("output_tokens", sa.BigInteger, nullable=True),
    sa.Column("provider_cost_usd", sa.Numeric(18, 8), nullable=True),
    sa.Column("run_id", UUID(as_uuid=True), nullable=True),
    sa.Column("stage", sa.SmallInteger, nullable=True),
    sa.Column("item_id", sa.Text, nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)
sa.Index("ix_usage_log_account_time", usage_log.c.account_id, usage_log.c.created_at)

cost_table = sa.Table(
    "cost_table",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("operation", sa.Text, nullable=False),
    sa.Column("unit", sa.Text, nullable=False),
    sa.Column("credits_per_unit", sa.Integer, nullable=False),
    sa.Column("minimum_credits", sa.Integer, nullable=False),
    sa.Column("display_name", sa.Text, nullable=False, server_default=""),
    sa.Column("effective_at", sa.DateTime(timezone=True), nullable=False),
    _created_at(),
    sa.CheckConstraint("credits_per_unit >= 0 AND minimum_credits >= 0", name="non_negative"),
)
sa.Index("ix_cost_table_operation_effective", cost_table.c.operation, cost_table.c.effective_at)
