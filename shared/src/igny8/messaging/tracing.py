"""W3C trace context carried in Kafka headers."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from opentelemetry import context, trace
from opentelemetry.propagate import extract, inject

tracer = trace.get_tracer("igny8.messaging")


def current_trace_headers() -> dict[str, str]:
    carrier: dict[str, str] = {}
    inject(carrier)
    return carrier


def context_from_headers(
    headers: Iterable[tuple[str, bytes]] | Mapping[str, str],
) -> context.Context:
    if isinstance(headers, Mapping):
        carrier = dict(headers)
    else:
        carrier = {k: v.decode(errors="replace") for k, v in headers if v is not None}
    return extract(carrier)
