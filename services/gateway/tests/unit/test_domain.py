"""Roles, API key format, webhook signatures and backoff (pure domain)."""

from __future__ import annotations

import hashlib
import hmac
import uuid

import pytest

from gateway.domain.model import (
    SCOPE_ROLE,
    Principal,
    Role,
    Scope,
    api_key_prefix,
    hash_api_key,
    new_api_key,
)
from gateway.domain.notifications import backoff_s, email_for, signature


def test_roles_are_ordered_and_platform_admins_pass_every_check():
    editor = Principal(uuid.uuid4(), Role.EDITOR, user_id="e")
    assert editor.may(Role.VIEWER) and editor.may(Role.EDITOR)
    assert not editor.may(Role.ADMIN) and not editor.may(Role.OWNER)
    operator = Principal(uuid.uuid4(), Role.VIEWER, user_id="o", platform_admin=True)
    assert operator.may(Role.OWNER)
    assert operator.forwarded_roles == ("viewer", "platform_admin")
    assert editor.forwarded_roles == ("editor",)


def test_api_key_scopes_never_reach_owner():
    assert set(SCOPE_ROLE.values()) == {Role.VIEWER, Role.EDITOR, Role.ADMIN}
    assert SCOPE_ROLE[Scope.ADMIN] is Role.ADMIN


def test_new_keys_carry_their_prefix_and_only_a_digest_is_kept():
    key = new_api_key()
    assert api_key_prefix(key.secret) == key.prefix
    assert key.digest == hash_api_key(key.secret) and key.secret not in key.digest
    assert new_api_key().secret != key.secret


@pytest.mark.parametrize(
    "presented", ["", "igk_", "igk_short_x", "igk_12345678_", "sk_12345678_abc", "eyJhbGciOi.x.y"]
)
def test_malformed_keys_have_no_prefix(presented):
    assert api_key_prefix(presented) is None


def test_signature_is_hmac_of_timestamp_and_body():
    header = signature("whsec_x", 1700000000, b'{"a":1}')
    t, v1 = (part.split("=", 1)[1] for part in header.split(","))
    expected = hmac.new(b"whsec_x", b'1700000000.{"a":1}', hashlib.sha256).hexdigest()
    assert t == "1700000000" and v1 == expected
    assert signature("other", 1700000000, b'{"a":1}') != header
    assert signature("whsec_x", 1700000001, b'{"a":1}') != header


def test_backoff_doubles_and_is_capped():
    assert [backoff_s(n, 30) for n in (1, 2, 3, 4)] == [30, 60, 120, 240]
    assert backoff_s(50, 30) == 3600


def test_only_what_a_person_must_see_is_emailed():
    assert email_for("balance.low", {"available": 5})
    assert email_for("payment.failed", {})
    assert email_for("run.paused", {"reason": "insufficient_credits", "run_id": "r"})
    assert email_for("run.paused", {"reason": "paused by user"}) is None
    assert email_for("run.completed", {}) is None
