"""User bearer tokens (PyJWT): a JWKS (file or URL) with asymmetric algorithms, or a development
HS256 secret — never both kinds at once, so a public key can never be used as an HMAC secret, and
`none` is never in the allowed list. `exp`, `iss`, `aud` and `sub` are required."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import jwt

from gateway.domain.errors import Unauthenticated
from gateway.ports import TokenClaims

REQUIRED = ["exp", "iss", "aud", "sub"]
CACHE_MAX = 10_000  # verified tokens remembered (a few MB at most)
ASYMMETRIC = {"RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA"}


class JwtVerifier:
    def __init__(
        self,
        issuer: str,
        audience: str,
        *,
        algorithms: list[str],
        jwks_file: str = "",
        jwks_url: str = "",
        dev_secret: str = "",
    ) -> None:
        self._issuer = issuer
        self._audience = audience
        self._dev_secret = dev_secret
        self._jwks_file = jwks_file
        self._jwks_client = jwt.PyJWKClient(jwks_url, cache_keys=True) if jwks_url else None
        if dev_secret and (jwks_file or jwks_url):
            raise ValueError("configure a JWKS or a development secret, not both")
        self._algorithms = ["HS256"] if dev_secret else [a for a in algorithms if a in ASYMMETRIC]
        self._verified: dict[str, tuple[TokenClaims, float]] = {}

    def _jwk(self, kid: str | None) -> Any:
        if self._jwks_client is not None:
            return self._jwks_client.get_signing_key(kid) if kid else None
        keys = jwt.PyJWKSet.from_dict(json.loads(Path(self._jwks_file).read_text())).keys
        matching = [k for k in keys if kid is None or k.key_id == kid]
        if len(matching) != 1:
            raise Unauthenticated("no unique signing key for this token", code="invalid_token")
        return matching[0]

    async def verify(self, token: str) -> TokenClaims:
        """Verified tokens are remembered until they expire (a frontend sends the same one on
        every request; the signature and claims cannot change, so checking them again proves
        nothing new). The cache is bounded; the oldest entries leave first."""
        cached = self._verified.get(token)
        if cached is not None:
            claims, expires = cached
            if time.time() < expires:
                return claims
            del self._verified[token]
        claims, expires = await self._verify(token)
        if len(self._verified) >= CACHE_MAX:
            self._verified.pop(next(iter(self._verified)))
        self._verified[token] = (claims, expires)
        return claims

    async def _verify(self, token: str) -> tuple[TokenClaims, float]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise Unauthenticated("malformed bearer token", code="invalid_token") from None
        algorithm = header.get("alg")
        if algorithm not in self._algorithms:
            raise Unauthenticated(f"algorithm {algorithm!r} is not accepted", code="invalid_token")
        try:
            if self._dev_secret:
                key: Any = self._dev_secret
            elif self._jwks_client is None and not self._jwks_file:
                raise Unauthenticated("no identity provider is configured", code="invalid_token")
            else:
                jwk = await asyncio.to_thread(self._jwk, header.get("kid"))
                if jwk is None or (jwk.algorithm_name and jwk.algorithm_name != algorithm):
                    raise Unauthenticated("the key does not match the algorithm")
                key = jwk.key
            claims = jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                audience=self._audience,
                issuer=self._issuer,
                options={"require": REQUIRED},
                leeway=10,
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("the token has expired", code="token_expired") from None
        except (jwt.PyJWTError, ValueError, OSError) as exc:
            raise Unauthenticated(f"invalid token: {exc}", code="invalid_token") from None
        return TokenClaims(str(claims["sub"]), claims.get("email")), float(claims["exp"])


def dev_token(
    secret: str, issuer: str, audience: str, user: str, ttl_s: int = 3600, email: str | None = None
) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {"sub": user, "iss": issuer, "aud": audience, "iat": now}
    claims["exp"] = now + ttl_s
    if email:
        claims["email"] = email
    return jwt.encode(claims, secret, algorithm="HS256")
