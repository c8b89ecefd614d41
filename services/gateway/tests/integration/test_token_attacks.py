"""Forged, expired and misdirected tokens never reach data: 401/403 with the one error format."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from gateway_support import SECRET, as_user, token

from gateway.adapters.jwt_tokens import JwtVerifier
from gateway.domain.errors import Unauthenticated

pytestmark = pytest.mark.integration
ISS, AUD = "https://id.igny8.local/", "igny8-api"


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def claims(**kw: object) -> dict[str, object]:
    now = int(time.time())
    return {"sub": "mallory", "iss": ISS, "aud": AUD, "iat": now, "exp": now + 600, **kw}


@pytest.mark.parametrize(
    "forged",
    [
        pytest.param(f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims())}.", id="alg-none"),
        pytest.param(jwt.encode(claims(exp=int(time.time()) - 60), SECRET), id="expired"),
        pytest.param(jwt.encode(claims(iss="https://evil/"), SECRET), id="wrong-issuer"),
        pytest.param(jwt.encode(claims(aud="other-api"), SECRET), id="wrong-audience"),
        pytest.param(jwt.encode(claims(), "another-secret-of-32-bytes-long!!"), id="bad-signature"),
        pytest.param(jwt.encode({"sub": "m", "iss": ISS, "aud": AUD}, SECRET), id="no-exp"),
        pytest.param("igk_00000000_nothing", id="unknown-api-key"),
        pytest.param("not-a-token", id="garbage"),
    ],
)
async def test_bad_tokens_are_401(gateway, new_account, forged):
    _, account = await new_account()
    answer = await gateway.get(
        "/v1/sites", headers={"Authorization": f"Bearer {forged}", "X-Account-Id": str(account)}
    )
    assert answer.status_code == 401, answer.text
    assert answer.json()["error"]["type"] == "authentication_error"
    assert "items" not in answer.text


async def test_no_token_is_401_and_another_accounts_id_is_403(gateway, new_account):
    _, account = await new_account()
    assert (await gateway.get("/v1/sites")).status_code == 401
    stranger = await gateway.get("/v1/sites", headers=as_user("stranger", account))
    assert stranger.status_code == 403
    assert stranger.json()["error"]["code"] == "not_a_member"
    missing = await gateway.get("/v1/sites", headers=as_user("stranger"))
    assert missing.status_code == 400


async def test_an_api_key_cannot_act_in_another_account(gateway, new_account):
    owner, account = await new_account()
    _, other = await new_account()
    made = await gateway.post(
        "/v1/api-keys", json={"name": "k", "scope": "admin"}, headers=as_user(owner, account)
    )
    key = made.json()["secret"]
    answer = await gateway.get(
        "/v1/sites", headers={"Authorization": f"Bearer {key}", "X-Account-Id": str(other)}
    )
    assert answer.status_code == 403
    tampered = key[:-2] + ("AA" if not key.endswith("AA") else "BB")
    assert (
        await gateway.get("/v1/sites", headers={"Authorization": f"Bearer {tampered}"})
    ).status_code == 401


@pytest.fixture
def rsa_jwks(tmp_path):
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = private.public_key()
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(public))
    jwk.update({"kid": "k1", "alg": "RS256", "use": "sig"})
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [jwk]}))
    pem = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, pem, path


async def test_a_jwks_verifier_accepts_its_key_and_refuses_hs256_signed_with_the_public_key(
    rsa_jwks,
):
    private, pem, path = rsa_jwks
    verifier = JwtVerifier(ISS, AUD, algorithms=["RS256"], jwks_file=str(path))
    good = jwt.encode(claims(), private, algorithm="RS256", headers={"kid": "k1"})
    assert (await verifier.verify(good)).subject == "mallory"
    # the classic confusion attack: HMAC with the public key as the secret
    confused = _hs256_with(pem, claims())
    for forged in (confused, f"{_b64({'alg': 'none', 'kid': 'k1'})}.{_b64(claims())}."):
        with pytest.raises(Unauthenticated):
            await verifier.verify(forged)
    with pytest.raises(Unauthenticated):
        await verifier.verify(
            jwt.encode(claims(aud="x"), private, algorithm="RS256", headers={"kid": "k1"})
        )


def _hs256_with(secret: bytes, payload: dict[str, object]) -> str:
    head = _b64({"alg": "HS256", "typ": "JWT", "kid": "k1"})
    body = _b64(payload)
    sig = hmac.new(secret, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{base64.urlsafe_b64encode(sig).decode().rstrip('=')}"


def test_dev_tokens_carry_the_configured_issuer_and_audience():
    decoded = jwt.decode(token("u1"), SECRET, algorithms=["HS256"], audience=AUD, issuer=ISS)
    assert decoded["sub"] == "u1" and decoded["exp"] > time.time()
