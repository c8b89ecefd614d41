"""Request bodies are bounded: a `Content-Length` over the route's limit is refused before a byte
is read, a body that stops arriving is refused after the read timeout, and an over-limit upload
sent without a length is refused as soon as the limit is crossed — never a hang.

The app is driven the way uvicorn drives it (`receive` hands the body over as it arrives and may
never hand over the rest), which an HTTP client cannot do: it always sends what it declares."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from gateway_processes import gateway_env
from gateway_support import as_user

from gateway.adapters.sqlalchemy_identity import SqlIdentityStore
from gateway.bootstrap import SERVICE_ROOT
from igny8.db import create_engine
from igny8.testing import migrated_database, start_service_process

pytestmark = pytest.mark.integration
MiB = 1024 * 1024
NEVER = 30.0  # a hang is reported as a failure after this, instead of stalling the suite


class Client:
    """One request through the app's ASGI interface, with the body parts the test chooses."""

    def __init__(self, parts: Iterator[bytes], stall: bool) -> None:
        self.parts = parts
        self.stall = stall
        self.bodies_read = 0
        self.bytes_read = 0
        self.messages: list[dict[str, Any]] = []

    async def receive(self) -> dict[str, Any]:
        part = next(self.parts, None)
        if part is None:
            if self.stall:  # the declared rest never comes (the client keeps the socket open)
                await asyncio.Event().wait()
            return {"type": "http.request", "body": b"", "more_body": False}
        self.bodies_read += 1
        self.bytes_read += len(part)
        return {"type": "http.request", "body": part, "more_body": True}

    async def send(self, message: dict[str, Any]) -> None:
        self.messages.append(message)

    def answer(self) -> tuple[int, dict[str, str], dict[str, Any]]:
        start = next(m for m in self.messages if m["type"] == "http.response.start")
        headers = {k.decode().lower(): v.decode() for k, v in start["headers"]}
        body = b"".join(
            m.get("body", b"") for m in self.messages if m["type"] == "http.response.body"
        )
        return start["status"], headers, json.loads(body)


async def send(
    app: Any, method: str, path: str, headers: dict[str, str], parts: Iterator[bytes], stall: bool
) -> tuple[Client, int, dict[str, str], dict[str, Any]]:
    client = Client(parts, stall)
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("gateway", 80),
    }
    await asyncio.wait_for(app(scope, client.receive, client.send), NEVER)
    return client, *client.answer()


def assert_error(status: int, headers: dict[str, str], body: dict[str, Any], want: int, code: str):  # type: ignore[no-untyped-def]
    assert status == want, body
    error = body["error"]
    assert error["code"] == code, error
    assert error["request_id"] == headers["x-request-id"]
    assert headers.get("connection") == "close"  # the unread rest is not a next request


async def test_a_content_length_over_the_import_limit_is_413_before_reading(
    make_gateway_app, new_account
):
    """The reported case: 20,000,000 declared, ~1 KB sent, the rest never comes."""
    app = make_gateway_app()
    owner, account = await new_account()
    headers = {
        **as_user(owner, account),
        "content-type": "text/csv",
        "content-length": "20000000",
    }
    path = f"/v1/sites/{uuid.uuid4()}/keywords"
    client, status, sent, body = await send(
        app, "POST", path, headers, iter([b"keyword\nseo tools\n" * 50]), stall=True
    )
    assert_error(status, sent, body, 413, "payload_too_large")
    assert client.bodies_read == 0
    # the gateway's own JSON routes and forwarded ones have (smaller) limits too
    for method, route in (("POST", "/v1/accounts"), ("POST", "/v1/sites")):
        too_big = {**headers, "content-type": "application/json", "content-length": str(5 * MiB)}
        client, status, sent, body = await send(app, method, route, too_big, iter([]), True)
        assert_error(status, sent, body, 413, "payload_too_large")
        assert client.bodies_read == 0


async def test_a_body_that_stops_arriving_is_408_after_the_read_timeout(
    make_gateway_app, new_account
):
    app = make_gateway_app(body_idle_timeout_s=0.3)
    owner, account = await new_account()
    for path, content_type in (
        (f"/v1/sites/{uuid.uuid4()}/keywords", "text/csv"),  # forwarded: read by the gateway
        ("/v1/accounts", "application/json"),  # the gateway's own: read by FastAPI
    ):
        headers = {
            **as_user(owner, account),
            "content-type": content_type,
            "content-length": "2000",
        }
        _, status, sent, body = await send(
            app, "POST", path, headers, iter([b"k" * 1000]), stall=True
        )
        assert_error(status, sent, body, 408, "request_timeout")


async def test_an_over_limit_upload_without_a_length_is_413_once_the_limit_is_crossed(
    make_gateway_app, new_account
):
    app = make_gateway_app()
    owner, account = await new_account()
    headers = {**as_user(owner, account), "content-type": "text/csv"}  # chunked: no length

    def endless() -> Iterator[bytes]:
        while True:
            yield b"keyword\n" + b"x" * (MiB - 8)

    client, status, sent, body = await send(
        app, "POST", f"/v1/sites/{uuid.uuid4()}/keywords", headers, endless(), stall=False
    )
    assert_error(status, sent, body, 413, "payload_too_large")
    assert client.bodies_read == 11  # 10 MiB is allowed; the 11th part crosses it


@pytest.fixture(scope="module")
def bodies_db(postgres_admin_url: str) -> Iterator[str]:
    yield from migrated_database(postgres_admin_url, SERVICE_ROOT, "gateway_bodies")


async def raw_post(url: str, head: dict[str, str], body: bytes) -> tuple[int, dict[str, Any]]:
    """What the user sent, byte for byte over a socket (an HTTP client would send the rest)."""
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        path = head.pop("path")
        lines = [f"POST {path} HTTP/1.1", f"Host: {host}", *(f"{k}: {v}" for k, v in head.items())]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), NEVER)  # the gateway closes it
    finally:
        writer.close()
    status_line, _, rest = answer.partition(b"\r\n")
    return int(status_line.split()[1]), json.loads(rest.partition(b"\r\n\r\n")[2])


async def test_a_served_gateway_answers_a_lying_content_length_instead_of_hanging(
    bodies_db, kafka_bootstrap, tmp_path
):
    """The reported request against a gateway process under uvicorn: 413 at once; a body that
    stops short of a length within the limit: 408 after the read timeout."""
    user = f"body-{uuid.uuid4().hex[:6]}"
    engine = create_engine(bodies_db, 2)
    try:
        account = uuid.uuid4()
        await SqlIdentityStore(engine).create_account(account, "Acme", user)
    finally:
        await engine.dispose()
    env = gateway_env(
        bodies_db, kafka_bootstrap, "http://127.0.0.1:9", GATEWAY_BODY_IDLE_TIMEOUT_S="0.5"
    )
    child, url = start_service_process("gateway", env, tmp_path / "gateway.log")
    try:
        head = {
            **as_user(user, account),
            "path": f"/v1/sites/{uuid.uuid4()}/keywords",
            "Content-Type": "text/csv",
        }
        status, body = await raw_post(
            url, {**head, "Content-Length": "20000000"}, b"keyword\nseo\n" * 90
        )
        assert (status, body["error"]["code"]) == (413, "payload_too_large"), body
        status, body = await raw_post(url, {**head, "Content-Length": "2000"}, b"k" * 1000)
        assert (status, body["error"]["code"]) == (408, "request_timeout"), body
    finally:
        child.stop()
