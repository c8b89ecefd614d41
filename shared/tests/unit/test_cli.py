"""`igny8 service-token` without its key says how to get one instead of only that it is missing."""

from __future__ import annotations

import pytest

from igny8.cli import main
from igny8.service_keys import new_private_key


def test_service_token_without_a_key_says_where_the_key_comes_from(monkeypatch, capsys):
    monkeypatch.delenv("GATEWAY_SERVICE_PRIVATE_KEY", raising=False)
    assert main(["service-token", "--from", "gateway", "--to", "billing"]) == 2
    err = capsys.readouterr().err
    assert ".env.infra" in err and "make infra-up" in err


def test_service_token_with_a_key_prints_only_the_token(monkeypatch, capsys):
    monkeypatch.setenv("GATEWAY_SERVICE_PRIVATE_KEY", new_private_key())
    assert main(["service-token", "--from", "gateway", "--to", "billing"]) == 0
    out, err = capsys.readouterr()
    assert out.count(".") == 2 and not err


@pytest.mark.parametrize("ttl", ["0", "301"])
def test_service_token_refuses_lifetimes_beyond_five_minutes(monkeypatch, capsys, ttl):
    monkeypatch.setenv("GATEWAY_SERVICE_PRIVATE_KEY", new_private_key())
    assert main(["service-token", "--from", "a", "--to", "b", "--ttl", ttl]) == 2
