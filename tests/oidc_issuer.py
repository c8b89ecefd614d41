"""A minimal OpenID Connect issuer for the console's tests: discovery, a sign-in page, the
authorization code flow with PKCE (S256 only, checked at the token endpoint), RS256 tokens and
their JWKS. A test double: one process, codes in memory, no client secrets (public clients)."""

from __future__ import annotations

import base64
import hashlib
import html
import secrets
import time
import urllib.parse
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse

KID = "test-issuer-1"


@dataclass
class Grant:
    client_id: str
    redirect_uri: str
    challenge: str
    nonce: str
    user: str
    expires: float


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


async def form(request: Request) -> dict[str, str]:
    """An urlencoded form (without python-multipart, which FastAPI's `Form` needs)."""
    parsed = urllib.parse.parse_qs((await request.body()).decode(), keep_blank_values=True)
    return {k: v[0] for k, v in parsed.items()}


def create_issuer(issuer: str, audience: str, clients: dict[str, str]) -> FastAPI:
    """`clients`: client id → its one registered redirect URI."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_jwk = jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
    codes: dict[str, Grant] = {}
    app = FastAPI()
    app.add_middleware(CORSMiddleware, allow_origins=["*"], allow_methods=["GET", "POST"])
    app.state.issued = []

    @app.get("/.well-known/openid-configuration")
    async def discovery() -> dict[str, Any]:
        return {
            "issuer": issuer,
            "authorization_endpoint": f"{issuer}/authorize",
            "token_endpoint": f"{issuer}/token",
            "jwks_uri": f"{issuer}/jwks",
            "response_types_supported": ["code"],
            "code_challenge_methods_supported": ["S256"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "subject_types_supported": ["public"],
        }

    @app.get("/jwks")
    async def jwks() -> dict[str, Any]:
        return {"keys": [{**public_jwk, "kid": KID, "alg": "RS256", "use": "sig"}]}

    @app.get("/authorize", response_class=HTMLResponse)
    async def authorize(request: Request) -> Any:
        q = request.query_params
        client = q.get("client_id", "")
        if clients.get(client) != q.get("redirect_uri"):
            return HTMLResponse("unknown client or redirect_uri", status_code=400)
        if q.get("response_type") != "code" or q.get("code_challenge_method") != "S256":
            return HTMLResponse("code flow with S256 PKCE only", status_code=400)
        hidden = "".join(
            f'<input type="hidden" name="{k}" value="{html.escape(v)}">' for k, v in q.items()
        )
        return (
            "<!doctype html><html lang=en><title>Test issuer</title><main><h1>Test issuer</h1>"
            f'<form method="post" action="/authorize">{hidden}'
            '<label for="user">User</label><input id="user" name="user" required>'
            "<button>Sign in</button></form></main></html>"
        )

    @app.post("/authorize")
    async def approve(request: Request) -> Any:
        f = await form(request)
        user, client_id, redirect_uri = (
            f.get("user", ""),
            f.get("client_id", ""),
            f.get("redirect_uri"),
        )
        state, nonce, code_challenge = (
            f.get("state", ""),
            f.get("nonce", ""),
            f.get("code_challenge"),
        )
        if not user or not code_challenge:
            return HTMLResponse("user and code_challenge are required", status_code=400)
        if clients.get(client_id) != redirect_uri:
            return HTMLResponse("unknown client or redirect_uri", status_code=400)
        code = secrets.token_urlsafe(24)
        codes[code] = Grant(client_id, redirect_uri, code_challenge, nonce, user, time.time() + 60)
        query = urllib.parse.urlencode({"code": code, "state": state})
        return RedirectResponse(f"{redirect_uri}?{query}", status_code=303)

    @app.post("/token")
    async def token(request: Request) -> Any:
        f = await form(request)
        grant_type, code, redirect_uri = (
            f.get("grant_type"),
            f.get("code", ""),
            f.get("redirect_uri"),
        )
        client_id, code_verifier = f.get("client_id", ""), f.get("code_verifier", "")
        grant = codes.pop(code, None)  # a code is good once
        refused = (
            grant is None
            or grant_type != "authorization_code"
            or grant.expires < time.time()
            or grant.client_id != client_id
            or grant.redirect_uri != redirect_uri
            or not code_verifier
            or s256(code_verifier) != grant.challenge
        )
        if refused or grant is None:
            return JSONResponse(
                {"error": "invalid_grant", "error_description": "code or PKCE verifier refused"},
                status_code=400,
            )
        now = int(time.time())
        common = {"iss": issuer, "sub": grant.user, "iat": now, "exp": now + 600}
        email = f"{grant.user}@example.com"
        access = jwt.encode(
            {**common, "aud": audience, "email": email}, key, "RS256", headers={"kid": KID}
        )
        identity = jwt.encode(
            {**common, "aud": client_id, "nonce": grant.nonce, "email": email},
            key,
            "RS256",
            headers={"kid": KID},
        )
        app.state.issued.append(grant.user)
        return {
            "access_token": access,
            "id_token": identity,
            "token_type": "Bearer",
            "expires_in": 600,
        }

    return app
