"""Ledger audit: recompute everything from the append-only entries and compare.

Used by `billing audit` (operators) and by the tests after every step.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

CHECKS: dict[str, str] = {
    "transactions that do not sum to zero": """
        SELECT transaction_id::text FROM ledger_entries GROUP BY transaction_id
        HAVING sum(amount) <> 0""",
    "accounts whose cached balance differs from their entries": """
        SELECT a.account_id::text FROM billing_accounts a
        LEFT JOIN (SELECT account_id,
                          coalesce(sum(amount) FILTER (WHERE book = 'available'), 0) AS available,
                          coalesce(sum(amount) FILTER (WHERE book = 'held'), 0) AS held
                   FROM ledger_entries GROUP BY account_id) e USING (account_id)
        WHERE a.available <> coalesce(e.available, 0) OR a.held <> coalesce(e.held, 0)""",
    "grants whose balances differ from their entries": """
        SELECT g.grant_id::text FROM grants g
        LEFT JOIN (SELECT grant_id,
                          coalesce(sum(amount) FILTER (WHERE book = 'available'), 0) AS available,
                          coalesce(sum(amount) FILTER (WHERE book = 'held'), 0) AS held
                   FROM ledger_entries WHERE grant_id IS NOT NULL GROUP BY grant_id) e
          USING (grant_id)
        WHERE g.available <> coalesce(e.available, 0) OR g.held <> coalesce(e.held, 0)""",
    "accounts whose balances disagree with their grants": """
        SELECT a.account_id::text FROM billing_accounts a
        LEFT JOIN (SELECT account_id, sum(available) AS available, sum(held) AS held
                   FROM grants GROUP BY account_id) g USING (account_id)
        WHERE a.available <> coalesce(g.available, 0) OR a.held <> coalesce(g.held, 0)""",
    "grants whose held credits differ from their reservations' holds": """
        SELECT g.grant_id::text FROM grants g
        LEFT JOIN (SELECT grant_id, sum(amount) AS held FROM reservation_holds h
                   JOIN reservations r USING (reservation_id) WHERE r.status = 'active'
                   GROUP BY grant_id) h USING (grant_id)
        WHERE g.held <> coalesce(h.held, 0)""",
    "negative balances": """
        SELECT account_id::text FROM billing_accounts WHERE available < 0 OR held < 0""",
    "reservations captured beyond what they reserved": """
        SELECT reservation_id::text FROM reservations
        WHERE captured + released > credits""",
    "reservations whose captures differ from their commits": """
        SELECT r.reservation_id::text FROM reservations r
        LEFT JOIN (SELECT reservation_id, sum((outcome->>'credits')::bigint) AS credits
                   FROM captures GROUP BY reservation_id) c USING (reservation_id)
        WHERE r.captured <> coalesce(c.credits, 0)""",
    "ended reservations still holding credits": """
        SELECT r.reservation_id::text FROM reservations r JOIN reservation_holds h
          USING (reservation_id) WHERE r.status <> 'active' AND h.amount > 0""",
    "reservations ended more than once": """
        SELECT reference FROM ledger_transactions WHERE kind = 'release'
        GROUP BY reference HAVING count(*) > 1""",
    "released reservations whose release is missing from the ledger": """
        SELECT r.reservation_id::text FROM reservations r
        WHERE r.status IN ('released', 'expired') AND r.released > 0 AND NOT EXISTS (
          SELECT 1 FROM ledger_transactions t
          WHERE t.kind = 'release' AND t.reference = r.reservation_id::text)""",
    "captures recorded twice in the ledger": """
        SELECT reference FROM ledger_transactions WHERE kind = 'capture'
        GROUP BY reference HAVING count(*) > 1""",
    "paid package or custom invoices whose credits were never granted": """
        SELECT i.invoice_id::text FROM invoices i
        WHERE i.status = 'paid' AND i.credits > 0 AND i.kind <> 'subscription'
          AND NOT EXISTS (SELECT 1 FROM grant_keys k WHERE k.account_id = i.account_id
                          AND k.idempotency_key = 'invoice:' || i.invoice_id::text)""",
    "invoice grants whose invoice is not paid": """
        SELECT k.idempotency_key FROM grant_keys k
        LEFT JOIN invoices i ON 'invoice:' || i.invoice_id::text = k.idempotency_key
        WHERE k.idempotency_key LIKE 'invoice:%' AND (i.status IS NULL OR i.status <> 'paid')""",
    "invoice or credit-note numbers with gaps or duplicates (per account, series and year)": r"""
        SELECT account_id::text || ' ' || series FROM (
          SELECT account_id, 'invoice' AS series, number FROM invoices WHERE number IS NOT NULL
          UNION ALL SELECT account_id, 'credit_note', number FROM credit_notes) n
        GROUP BY account_id, series, substring(number from '(\d{4})-\d+$')
        HAVING count(*) <> max(substring(number from '(\d+)$')::bigint)
            OR count(DISTINCT number) <> count(*)""",
    "credits taken back beyond what an invoice bought": """
        SELECT c.invoice_id::text FROM credit_notes c JOIN invoices i USING (invoice_id)
        GROUP BY c.invoice_id, i.credits
        HAVING sum(c.credits_taken_back + c.credits_already_spent) > i.credits""",
}


async def audit(conn: AsyncConnection) -> dict[str, list[str]]:
    """Every violated invariant with (up to 20 of) the offending ids; empty when all hold."""
    violations: dict[str, list[str]] = {}
    for name, query in CHECKS.items():
        rows = (await conn.execute(sa.text(query + " LIMIT 20"))).scalars().all()
        if rows:
            violations[name] = [str(r) for r in rows]
    return violations
