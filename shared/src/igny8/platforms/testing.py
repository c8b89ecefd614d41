"""Local HTTP servers that speak the documented request/response shapes of WordPress REST and the
Shopify Admin GraphQL API, with failure switches (test support; real HTTP on loopback)."""

from __future__ import annotations

import base64
import ipaddress
import json
import ssl
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit


class JsonHandler(BaseHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass

    def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@dataclass
class WordPressState:
    users: dict[str, tuple[str, bool]] = field(
        default_factory=lambda: {"editor": ("good pass", True)}
    )
    """username → (application password, can publish)"""
    app_passwords: bool = True
    rest_api: bool = True
    plain_permalinks: bool = False
    posts: int = 250
    categories: int = 3
    tags: int = 120
    throttle_once: set[str] = field(default_factory=set)
    """Routes (e.g. 'wp/v2/posts?page=2') answered once with 429 Retry-After: 1."""
    link_root: str | None = None
    """The REST root the home page's `Link` header announces (default: this server's own)."""
    requests: list[str] = field(default_factory=list)
    created_posts: list[dict[str, Any]] = field(default_factory=list)


def _wordpress_handler(state: WordPressState) -> type[BaseHTTPRequestHandler]:
    class Handler(JsonHandler):
        def _route(self) -> tuple[str, dict[str, list[str]]]:
            parts = urlsplit(self.path)
            query = parse_qs(parts.query)
            if "rest_route" in query:
                return query.pop("rest_route")[0].lstrip("/"), query
            if parts.path.startswith("/wp-json/"):
                return parts.path[len("/wp-json/") :], query
            return "", query

        def _user(self) -> tuple[str, bool] | None:
            header = self.headers.get("Authorization", "")
            if not header.startswith("Basic "):
                return None
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
            known = state.users.get(user)
            if known and known[0].replace(" ", "") == password:
                return user, known[1]
            return None

        def do_GET(self) -> None:
            state.requests.append(self.path)
            route, query = self._route()
            port = self.server.server_address[1]  # type: ignore[index]
            if self.path in ("/", "") or (not route and not self.path.startswith("/wp-json")):
                root = (
                    f"http://127.0.0.1:{port}/?rest_route=/"
                    if state.plain_permalinks
                    else f"http://127.0.0.1:{port}/wp-json/"
                )
                root = state.link_root or root
                headers = {"Link": f'<{root}>; rel="https://api.w.org/"'} if state.rest_api else {}
                if route == "" and "rest_route" in urlsplit(self.path).query and state.rest_api:
                    return self._send(200, {"namespaces": ["wp/v2"]})
                return self._send(200, {"home": True}, headers)
            if not state.rest_api:
                return self._send(404, {"code": "rest_no_route"})
            if route == "":
                return self._send(200, {"namespaces": ["wp/v2"]})
            page = int(query.get("page", ["1"])[0])
            key = f"{route}?page={page}"
            if key in state.throttle_once:
                state.throttle_once.discard(key)
                return self._send(429, {"code": "too_many_requests"}, {"Retry-After": "1"})
            if route == "wp/v2/users/me":
                if not state.app_passwords:
                    return self._send(
                        501,
                        {
                            "code": "application_passwords_disabled",
                            "message": "Application passwords are not available.",
                        },
                    )
                user = self._user()
                if user is None:
                    return self._send(
                        401, {"code": "incorrect_password", "message": "bad password"}
                    )
                return self._send(
                    200, {"id": 1, "slug": user[0], "capabilities": {"publish_posts": user[1]}}
                )
            if self._user() is None:
                return self._send(401, {"code": "rest_not_logged_in"})
            counts = {
                "wp/v2/posts": state.posts,
                "wp/v2/categories": state.categories,
                "wp/v2/tags": state.tags,
            }
            if route not in counts:
                return self._send(404, {"code": "rest_no_route"})
            per_page = int(query.get("per_page", ["10"])[0])
            total = counts[route]
            pages = max(1, -(-total // per_page))
            start = (page - 1) * per_page
            rows = []
            for n in range(start, min(start + per_page, total)):
                if route == "wp/v2/posts":
                    rows.append(
                        {
                            "id": n + 1,
                            "link": f"http://127.0.0.1:{port}/?p={n + 1}",
                            "modified_gmt": "2026-11-01T10:00:00",
                            "title": {"rendered": f"Post {n + 1}"},
                            "excerpt": {"rendered": f"<p>About {n + 1}</p>"},
                        }
                    )
                else:
                    rows.append(
                        {
                            "id": n + 1,
                            "name": f"{route.rsplit('/', 1)[1]} {n + 1}",
                            "link": f"http://127.0.0.1:{port}/t/{n + 1}",
                        }
                    )
            return self._send(200, rows, {"X-WP-Total": str(total), "X-WP-TotalPages": str(pages)})

    return Handler


@dataclass
class ShopifyState:
    tokens: dict[str, list[str]] = field(
        default_factory=lambda: {"shpat_good": ["read_content", "write_content"]}
    )
    articles: int = 150
    throttle_once: bool = False
    http_429_once: bool = False
    requests: int = 0


def _shopify_handler(state: ShopifyState) -> type[BaseHTTPRequestHandler]:
    class Handler(JsonHandler):
        def do_POST(self) -> None:
            state.requests += 1
            if not self.path.startswith("/admin/api/") or not self.path.endswith("/graphql.json"):
                return self._send(404, {"errors": "Not Found"})
            length = int(self.headers.get("Content-Length", "0"))
            request = json.loads(self.rfile.read(length) or b"{}")
            scopes = state.tokens.get(self.headers.get("X-Shopify-Access-Token", ""))
            if scopes is None:
                return self._send(401, {"errors": "[API] Invalid API key or access token"})
            if state.http_429_once:
                state.http_429_once = False
                return self._send(429, {"errors": "Throttled"}, {"Retry-After": "1"})
            cost: dict[str, Any] = {
                "requestedQueryCost": 12,
                "throttleStatus": {
                    "maximumAvailable": 2000,
                    "currentlyAvailable": 1988,
                    "restoreRate": 100,
                },
            }
            if state.throttle_once:
                state.throttle_once = False
                cost["throttleStatus"]["currentlyAvailable"] = 90
                return self._send(
                    200,
                    {
                        "errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
                        "extensions": {"cost": cost},
                    },
                )
            query = request.get("query", "")
            if "shop" in query:
                return self._send(
                    200,
                    {
                        "data": {
                            "shop": {"name": "Demo Shop"},
                            "currentAppInstallation": {
                                "accessScopes": [{"handle": s} for s in scopes]
                            },
                        },
                        "extensions": {"cost": cost},
                    },
                )
            if "articles" in query:
                after = (request.get("variables") or {}).get("after")
                start = int(after) if after else 0
                nodes = [
                    {
                        "id": f"gid://shopify/Article/{n + 1}",
                        "title": f"Article {n + 1}",
                        "handle": f"article-{n + 1}",
                        "summary": "",
                        "updatedAt": "2026-11-02T08:00:00Z",
                        "blog": {"handle": "news"},
                    }
                    for n in range(start, min(start + 100, state.articles))
                ]
                end = start + len(nodes)
                return self._send(
                    200,
                    {
                        "data": {
                            "articles": {
                                "nodes": nodes,
                                "pageInfo": {
                                    "hasNextPage": end < state.articles,
                                    "endCursor": str(end),
                                },
                            }
                        },
                        "extensions": {"cost": cost},
                    },
                )
            return self._send(200, {"errors": [{"message": "unknown query"}]})

    return Handler


@contextmanager
def serve(handler: type[BaseHTTPRequestHandler], tls: bool = False) -> Iterator[str]:
    """Serve on a free loopback port; with `tls`, HTTPS under a throwaway self-signed
    certificate (clients pass `verify=False`)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    if tls:
        server.socket = _self_signed_context().wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    scheme = "https" if tls else "http"
    try:
        yield f"{scheme}://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _self_signed_context() -> ssl.SSLContext:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.IPv4Address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    folder = Path(tempfile.mkdtemp(prefix="igny8-tls-"))
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    return context


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]


@contextmanager
def fake_recorder(
    redirects: dict[str, str] | None = None, status: int = 302, tls: bool = False
) -> Iterator[tuple[str, list[Recorded]]]:
    """A server that records every request (method, path, headers) and answers 200 `{}`, or,
    for a path in `redirects`, redirects to its location with `status`."""
    seen: list[Recorded] = []

    class Handler(JsonHandler):
        def _answer(self) -> None:
            seen.append(Recorded(self.command, self.path, dict(self.headers.items())))
            length = int(self.headers.get("Content-Length", "0"))
            if length:
                self.rfile.read(length)
            if self.path in (redirects or {}):
                return self._send(status, {}, {"Location": (redirects or {})[self.path]})
            return self._send(200, {})

        do_GET = do_POST = do_PUT = _answer

    with serve(Handler, tls) as url:
        yield url, seen


@contextmanager
def fake_wordpress(state: WordPressState | None = None) -> Iterator[tuple[str, WordPressState]]:
    state = state or WordPressState()
    with serve(_wordpress_handler(state)) as url:
        yield url, state


@contextmanager
def fake_shopify(state: ShopifyState | None = None) -> Iterator[tuple[str, ShopifyState]]:
    state = state or ShopifyState()
    with serve(_shopify_handler(state)) as url:
        yield url, state


@dataclass
class SlowState:
    release: threading.Event = field(default_factory=threading.Event)
    """The server holds every request until this is set (or `hold_s` passes)."""
    hold_s: float = 30.0
    drip: bool = False
    """Instead of holding: send headers at once, then one byte every 0.1 s, never finishing."""
    body_bytes: int = 0
    """Instead of holding: answer 200 with a JSON array of this many bytes."""
    arrived: threading.Event = field(default_factory=threading.Event)
    requests: int = 0


@contextmanager
def fake_slow_site(state: SlowState | None = None) -> Iterator[tuple[str, SlowState]]:
    """A hostile or broken site: never answers, drips bytes forever, or answers too much."""
    state = state if state is not None else SlowState()
    site = state

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            site.requests += 1
            site.arrived.set()
            try:
                if site.body_bytes:
                    body = b"[" + b" " * max(0, site.body_bytes - 2) + b"]"
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.end_headers()  # no Content-Length: the client must count
                    self.wfile.write(body)
                    return
                if site.drip:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", "1000000")
                    self.end_headers()
                    while not site.release.wait(0.1):
                        self.wfile.write(b" ")
                        self.wfile.flush()
                    return
                site.release.wait(site.hold_s)
                body = b"{}"
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except OSError:  # the client gave up
                return

        do_POST = do_GET

    with serve(Handler) as url:
        try:
            yield url, state
        finally:
            state.release.set()
