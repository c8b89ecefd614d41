"""Structured JSON logs, OpenTelemetry tracing and Prometheus metrics for every service."""

from __future__ import annotations

import logging
import sys

import structlog
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import Counter, Gauge, Histogram

_configured = False


def configure(service: str, level: str = "INFO") -> None:
    """JSON logs on stdout; a tracer provider so W3C trace context is minted and propagated."""
    global _configured
    if _configured:
        return
    _configured = True
    logging.basicConfig(format="%(message)s", stream=sys.stdout, level=level.upper())
    for noisy in ("aiokafka", "kafka", "uvicorn.access", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
        ),
        logger_factory=structlog.PrintLoggerFactory(sys.stdout),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.bind_contextvars(service=service)
    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        trace.set_tracer_provider(
            TracerProvider(resource=Resource.create({"service.name": service}))
        )


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    return structlog.get_logger(name)  # type: ignore[no-any-return]


MESSAGES_CONSUMED = Counter(
    "igny8_messages_consumed_total",
    "Messages handled by a consumer, by outcome (applied, duplicate, dead_lettered)",
    ["consumer", "topic", "outcome"],
)
MESSAGES_PUBLISHED = Counter(
    "igny8_messages_published_total", "Messages the outbox relay published", ["topic"]
)
MESSAGES_RETRIED = Counter(
    "igny8_messages_retried_total",
    "Handler attempts that failed and were retried",
    ["consumer", "topic"],
)
MESSAGES_DEAD_LETTERED = Counter(
    "igny8_messages_dead_lettered_total",
    "Messages sent to a dead-letter topic",
    ["consumer", "topic", "reason"],
)
TRANSIENT_FAILURES = Counter(
    "igny8_consumer_transient_failures_total",
    "Handler attempts that failed on the infrastructure (retried until it is back)",
    ["consumer", "topic"],
)
CONSUMER_WAITING = Gauge(
    "igny8_consumer_waiting_for_infrastructure",
    "1 while a consumer retries records because the database (or another dependency) fails",
    ["consumer"],
)
OUTBOX_UNPUBLISHABLE = Counter(
    "igny8_outbox_unpublishable_total",
    "Outbox rows the broker can never accept (too large, invalid topic): set aside, not retried",
    ["topic"],
)
OUTBOX_LAG = Gauge("igny8_outbox_unsent", "Outbox rows not yet published")
OUTBOX_OLDEST_AGE = Gauge(
    "igny8_outbox_oldest_unsent_seconds", "Age of the oldest unsent outbox row"
)
HANDLER_SECONDS = Histogram(
    "igny8_handler_seconds", "Time spent in a message handler transaction", ["consumer", "topic"]
)
