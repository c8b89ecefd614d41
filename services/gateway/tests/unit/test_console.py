"""The console's routes without infrastructure: the sign-in configuration, development tokens
only when both switches are on, and the built files with the SPA fallback."""

from __future__ import annotations

from pathlib import Path

import jwt
from fastapi import FastAPI
from fastapi.testclient import TestClient

from gateway.config import GatewaySettings
from gateway.domain.errors import GatewayError
from gateway.entrypoints import console
from gateway.entrypoints.context import gateway_error_handler
from igny8.webapi import install_error_handlers

SECRET = "unit-test-development-secret-0123456789"


def client(settings: GatewaySettings, folder: Path | None = None) -> TestClient:
    app = FastAPI()
    install_error_handlers(app)
    app.add_exception_handler(GatewayError, gateway_error_handler)
    app.include_router(console.create_router(settings))
    if folder is not None:
        app.include_router(console.create_static_router(folder))
    return TestClient(app)


def settings(**kw: object) -> GatewaySettings:
    return GatewaySettings(database_url="postgresql+asyncpg://unused/db", **kw)  # type: ignore[arg-type]


def test_development_tokens_need_the_switch_and_the_secret():
    for off in (settings(jwt_dev_secret=SECRET), settings(console_dev_sign_in=True)):
        refused = client(off).post("/v1/console/dev-tokens", json={"user": "ann"})
        assert refused.status_code == 404
        assert refused.json()["error"]["code"] == "dev_sign_in_off"
        assert client(off).get("/v1/console/config").json()["dev_users"] == []
    on = settings(jwt_dev_secret=SECRET, console_dev_sign_in=True)
    minted = client(on).post("/v1/console/dev-tokens", json={"user": "ann"}).json()
    claims = jwt.decode(minted["access_token"], SECRET, ["HS256"], audience=on.jwt_audience)
    assert claims["sub"] == "ann" and claims["iss"] == on.jwt_issuer
    assert client(on).post("/v1/console/dev-tokens", json={"user": "a b"}).status_code == 422


def test_the_configuration_names_the_oidc_client_only_when_one_is_set():
    assert client(settings()).get("/v1/console/config").json()["oidc"] is None
    oidc = client(settings(oidc_client_id="console", oidc_issuer="https://id.example/"))
    found = oidc.get("/v1/console/config").json()["oidc"]
    assert found == {
        "issuer": "https://id.example",
        "client_id": "console",
        "scopes": "openid email profile",
        "audience": "igny8-api",
    }


def test_files_are_served_with_the_page_as_fallback_and_nothing_outside(tmp_path):
    built = tmp_path / "dist"
    (built / "assets").mkdir(parents=True)
    (built / "index.html").write_text("<div id=app></div>")
    (built / "assets" / "index-abc.js").write_text("console.log(1)")
    (tmp_path / "secret.txt").write_text("outside")
    web = client(settings(), built)
    asset = web.get("/assets/index-abc.js")
    assert asset.status_code == 200 and "immutable" in asset.headers["cache-control"]
    page = web.get("/sites/123/articles/456")
    assert page.text == "<div id=app></div>" and page.headers["cache-control"] == "no-cache"
    assert web.get("/assets/index-old.js").status_code == 404
    for method in ("GET", "POST"):
        unknown = web.request(method, "/v1/unknown")
        assert unknown.status_code == 404 and unknown.json()["error"]["type"]
    assert "outside" not in web.get("/..%2fsecret.txt").text
    assert "outside" not in web.get("/assets/..%2f..%2fsecret.txt").text
