"""Fingerprints are stored with each reservation and capture: a retry made after an upgrade must
hash exactly as before (the same id with the same parameters is a retry, not a conflict)."""

from __future__ import annotations

import uuid
from dataclasses import asdict

from billing.app import commands as c
from billing.app.commands import request_hash

A, R, K, RUN = (uuid.UUID(int=n) for n in range(1, 5))


def test_capture_fingerprint_is_the_hash_of_its_parameters_without_the_commit_id():
    for cmd in (
        c.CommitCredits(A, R, K, "clustering", 3),
        c.CommitCredits(A, R, K, "linking", 3, c.Usage("m", 1, 2, "0.5"), RUN, 4, "item"),
    ):
        params = asdict(cmd)
        params.pop("commit_id")
        assert cmd.fingerprint == request_hash(params)
    assert c.CommitCredits(A, R, K, "clustering", 3).fingerprint != (
        c.CommitCredits(A, R, K, "clustering", 4).fingerprint
    )


def test_reserve_fingerprint_is_the_hash_of_items_ttl_and_run():
    for cmd in (
        c.ReserveCredits(A, R, (c.Item("clustering", 1), c.Item("linking", 2)), 5, RUN),
        c.ReserveCredits(A, R, (c.Item("clustering", 1),)),
    ):
        items = [asdict(i) for i in cmd.items]
        assert cmd.fingerprint == request_hash(
            {"items": items, "ttl": cmd.ttl_seconds, "run": cmd.run_id}
        )
