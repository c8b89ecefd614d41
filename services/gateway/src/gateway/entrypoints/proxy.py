"""`/v1` routes built from the route table: authenticate, check the role, honour
`Idempotency-Key`, call the owning service with a service token (account and roles forwarded),
and answer its response — upstream failures become 502/503/504 with `retryable`, never a 500."""

from __future__ import annotations

import inspect
import re
import time
import uuid
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import JSONResponse

from gateway.app import idempotency
from gateway.domain.errors import Forbidden
from gateway.domain.model import Principal
from gateway.entrypoints.context import Gateway, rate_headers
from gateway.entrypoints.routes import ROUTES, Route
from igny8.auth import mint_service_token
from igny8.webapi import error_response, errors

PARAM = re.compile(r"{(\w+)}")
PASSED_HEADERS = ("content-type", "content-disposition", "retry-after", "cache-control")
BODY_SCHEMAS: dict[str, dict[str, Any]] = {
    "json": {"application/json": {"schema": {"type": "object"}}},
    "keywords": {
        "text/csv": {"schema": {"type": "string"}},
        "application/json": {"schema": {"type": "object"}},
    },
    "raw": {"application/json": {"schema": {"type": "object"}}},
}
ANY_JSON: dict[str, Any] = {"content": {"application/json": {"schema": {}}}}


_TOKENS: dict[tuple[int, str], tuple[str, float]] = {}
TOKEN_TTL_S = 120
TOKEN_REUSE_S = 60  # a reused token has at least a minute left when a service checks it


def service_token(gw: Gateway, service: str) -> str:
    """The gateway's token for `service`, minted once a minute rather than signed per request:
    it names only caller and audience (the account and roles travel as headers)."""
    now = time.monotonic()
    cache_key = (id(gw), service)
    cached = _TOKENS.get(cache_key)
    if cached is not None and cached[1] > now:
        return cached[0]
    token = mint_service_token(gw.key, "gateway", service, ttl_s=TOKEN_TTL_S)
    _TOKENS[cache_key] = (token, now + TOKEN_REUSE_S)
    return token


def upstream_failure(request: Request, status: int, code: str, message: str) -> JSONResponse:
    return error_response(
        request,
        status,
        message,
        code=code,
        headers={"Retry-After": "5"},
        extra={"retryable": True},
    )


async def forward(
    gw: Gateway, request: Request, route: Route, principal: Principal | None, upstream: str
) -> Response:
    """One upstream call; the answer as a Response (4xx bodies put in the one error format)."""
    headers = {
        k: v for k, v in request.headers.items() if k.lower() in ("content-type", "idempotency-key")
    }
    if route.public:  # Stripe: the signature header and the exact bytes are the authentication
        headers.update(
            {k: v for k, v in request.headers.items() if k.lower().startswith("stripe-")}
        )
    if principal is not None:
        headers["Authorization"] = f"Bearer {service_token(gw, route.service)}"
        headers["X-Account-Id"] = str(principal.account_id)
        if principal.forwarded_roles:
            headers["X-Roles"] = ",".join(principal.forwarded_roles)
    headers["X-Request-Id"] = str(getattr(request.state, "request_id", "") or "")
    body = await request.body() if route.body else None
    try:
        answer = await _call(gw, route, upstream, request, body, headers)
    except httpx.TimeoutException:
        return upstream_failure(
            request, 504, "upstream_timeout", f"{route.service} did not answer in time"
        )
    except httpx.HTTPError:
        return upstream_failure(
            request, 503, "upstream_unavailable", f"{route.service} cannot be reached"
        )
    if answer.status_code >= 500:
        status = answer.status_code if answer.status_code in (502, 503, 504) else 502
        return upstream_failure(
            request, status, "upstream_error", f"{route.service} answered {answer.status_code}"
        )
    if answer.status_code == 401:  # the gateway's own service token was refused: our fault
        return error_response(
            request,
            502,
            f"{route.service} refused the gateway's service credentials",
            code="upstream_auth_failed",
            extra={"retryable": False},
        )
    passed = {k: v for k, v in answer.headers.items() if k.lower() in PASSED_HEADERS}
    passed.update(rate_headers(request))
    if answer.status_code >= 400:
        return _as_error(request, answer, passed)
    return Response(answer.content, status_code=answer.status_code, headers=passed)


IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE"})


async def _call(
    gw: Gateway,
    route: Route,
    upstream: str,
    request: Request,
    body: bytes | None,
    headers: dict[str, str],
) -> httpx.Response:
    """The upstream call. A kept-alive connection the service closed just as it was reused
    (its idle timeout) fails without an answer: an idempotent call is then made once more on a
    fresh connection; a POST is not (it may have been applied), it answers 503 retryable."""
    for attempt in (1, 2):
        try:
            return await gw.client.request(
                route.method,
                gw.service_url(route.service) + upstream,
                params=request.query_params,
                content=body,
                headers=headers,
            )
        except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError):
            if attempt == 2 or route.method not in IDEMPOTENT:
                raise
    raise AssertionError("unreachable")


def _as_error(request: Request, answer: httpx.Response, headers: dict[str, str]) -> Response:
    try:
        body = answer.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        detail = body["error"]
        return error_response(
            request,
            answer.status_code,
            str(detail.get("message", "")),
            code=detail.get("code"),
            param=detail.get("param"),
            type=detail.get("type"),
            headers={k: v for k, v in headers.items() if k.lower() != "content-type"},
        )
    message = body.get("detail") if isinstance(body, dict) else answer.reason_phrase
    return error_response(request, answer.status_code, str(message))


async def idempotent(gw: Gateway, request: Request, principal: Principal, call: Any) -> Response:
    """Replays the stored answer of a repeated `Idempotency-Key` (see `app/idempotency.py`)."""
    key = request.headers.get("idempotency-key")
    if not key:
        return await call()  # type: ignore[no-any-return]
    account = principal.account_id
    print_ = idempotency.fingerprint(request.method, request.url.path, await request.body())
    held = await idempotency.begin(gw.idempotency, account, key, print_)
    if held is not None:
        return Response(
            held.body,
            status_code=held.status or 200,
            media_type=held.content_type,
            headers={"Idempotent-Replayed": "true"},
        )
    try:
        answer: Response = await call()
    except BaseException:
        await idempotency.abandon(gw.idempotency, account, key)
        raise
    await idempotency.finish(
        gw.idempotency,
        account,
        key,
        answer.status_code,
        bytes(answer.body),
        answer.headers.get("content-type"),
    )
    return answer


def create_router(gw: Gateway, member: Any) -> APIRouter:
    router = APIRouter(prefix="/v1")
    for route in ROUTES:
        _add(router, gw, member, route)
    return router


def _add(router: APIRouter, gw: Gateway, member: Any, route: Route) -> None:
    names = PARAM.findall(route.path)

    async def endpoint(request: Request, **kwargs: Any) -> Response:
        principal: Principal | None = kwargs.get("principal")
        if principal is not None:
            if route.platform and not principal.platform_admin:
                raise Forbidden("only the platform operator may do this")
            if not principal.may(route.role):
                raise Forbidden(f"this needs the {route.role.value} role or higher")
        values = {n: str(kwargs[n]) for n in names}
        if principal is not None:
            values["account"] = str(principal.account_id)
        upstream = route.upstream.format(**values)

        async def call() -> Response:
            return await forward(gw, request, route, principal, upstream)

        if route.creates and principal is not None:
            return await idempotent(gw, request, principal, call)
        return await call()

    params = [inspect.Parameter("request", inspect.Parameter.KEYWORD_ONLY, annotation=Request)]
    for name in names:
        params.append(
            inspect.Parameter(
                name, inspect.Parameter.KEYWORD_ONLY, annotation=Annotated[uuid.UUID, Path()]
            )
        )
    if route.paged:
        params.append(
            inspect.Parameter(
                "limit",
                inspect.Parameter.KEYWORD_ONLY,
                default=None,
                annotation=Annotated[int | None, Query(ge=1, le=200)],
            )
        )
        params.append(
            inspect.Parameter(
                "cursor",
                inspect.Parameter.KEYWORD_ONLY,
                default=None,
                annotation=Annotated[str | None, Query(max_length=200)],
            )
        )
    if not route.public:
        params.append(
            inspect.Parameter(
                "principal",
                inspect.Parameter.KEYWORD_ONLY,
                annotation=Annotated[Principal, Depends(member)],
            )
        )
    endpoint.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    extra: dict[str, Any] = {}
    if route.body:
        extra["requestBody"] = {"required": True, "content": BODY_SCHEMAS[route.body]}
    if route.creates:
        extra["parameters"] = [
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "schema": {"type": "string", "maxLength": 255},
                "description": "Repeating a creating POST with the same key replays its answer.",
            }
        ]
    statuses = [404, 409, 422, 502, 503, 504] + ([] if route.public else [400, 401, 403, 429])
    success: dict[int | str, dict[str, Any]] = {
        route.status: {"description": "The owning service's answer.", **ANY_JSON}
    }
    if route.status == 204:
        success = {204: {"description": "Done."}}
    router.add_api_route(
        route.path,
        endpoint,
        methods=[route.method],
        summary=route.summary,
        tags=[route.tag],
        name=f"{route.method.lower()}_{route.path}",
        operation_id=route.method.lower() + re.sub(r"\W+", "_", route.path).rstrip("_"),
        status_code=route.status,
        response_class=Response,
        responses={**success, **errors(*statuses)},
        openapi_extra=extra or None,
    )
