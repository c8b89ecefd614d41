"""The topic registry: topic → payload model, key, kind, owner, partitions, cleanup policy."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from igny8.contracts import credits, invoices, publications, runs, sites
from igny8.contracts.envelope import Envelope
from igny8.contracts.errors import InvalidPayload, UndecodableMessage

KeyField = Literal["account_id", "site_id", "run_id", "integration_id", "item_id"]
DATA_KEYS = ("run_id", "integration_id", "item_id")
"""Keys taken from the payload rather than the envelope."""
MAX_MESSAGE_BYTES = 1024 * 1024


@dataclass(frozen=True)
class TopicSpec:
    name: str
    payload: type[BaseModel]
    key: KeyField
    kind: Literal["command", "event"]
    owner: str
    """For a command the one consuming service; for an event the one producing service."""
    partitions: int = 3
    cleanup_policy: Literal["delete", "compact"] = "delete"
    schema_versions: tuple[int, ...] = (1,)
    description: str = ""
    retention_ms: int | None = None
    """None: the broker default; -1 keeps messages forever."""

    @property
    def dlq(self) -> str:
        return f"{self.name}.dlq"

    def key_of(self, envelope: Envelope) -> bytes:
        value = (
            envelope.data.get(self.key) if self.key in DATA_KEYS else getattr(envelope, self.key)
        )
        if value is None:
            raise InvalidPayload(self.name, self.key, "the message key is missing")
        return str(value).encode()


class TopicRegistry:
    def __init__(self, specs: Iterable[TopicSpec] = ()) -> None:
        self._specs: dict[str, TopicSpec] = {}
        for spec in specs:
            self.register(spec)

    def register(self, spec: TopicSpec) -> TopicSpec:
        if spec.name in self._specs:
            raise ValueError(f"topic {spec.name} is registered twice")
        self._specs[spec.name] = spec
        return spec

    def __getitem__(self, topic: str) -> TopicSpec:
        try:
            return self._specs[topic]
        except KeyError:
            raise UndecodableMessage(topic, "type", "topic is not in the registry") from None

    def __contains__(self, topic: object) -> bool:
        return topic in self._specs

    def __iter__(self) -> Iterator[TopicSpec]:
        return iter(self._specs.values())

    def envelope(
        self,
        topic: str,
        payload: BaseModel,
        *,
        source: str,
        account_id: Any = None,
        site_id: Any = None,
        correlation_id: str | None = None,
        causation_id: str | None = None,
    ) -> Envelope:
        """Build an envelope for `topic`, checking the payload type and the producer."""
        spec = self[topic]
        if not isinstance(payload, spec.payload):
            raise InvalidPayload(topic, "data", f"expected {spec.payload.__name__}")
        if spec.kind == "event" and source != spec.owner:
            raise InvalidPayload(topic, "source", f"only {spec.owner} publishes this event")
        envelope = Envelope(
            type=topic,
            source=source,
            account_id=account_id,
            site_id=site_id,
            correlation_id=correlation_id,
            causation_id=causation_id,
            schema_version=spec.schema_versions[-1],
            data=payload.model_dump(mode="json"),
        )
        spec.key_of(envelope)
        return envelope

    def decode(self, topic: str, raw: bytes | None) -> Envelope:
        """Bytes → envelope; anything that fails here belongs on the dead-letter topic."""
        if raw is None:
            raise UndecodableMessage(topic, "value", "empty message (tombstone)")
        try:  # parsed and validated in one pass (no intermediate Python document)
            envelope = Envelope.model_validate_json(raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            if first["type"] == "json_invalid":
                raise UndecodableMessage(topic, "value", f"not JSON: {first['msg']}") from None
            field = ".".join(str(p) for p in first["loc"]) or "value"
            raise UndecodableMessage(topic, field, f"not an envelope: {first['msg']}") from None
        if envelope.type != topic:
            raise UndecodableMessage(topic, "type", f"envelope type {envelope.type!r} differs")
        spec = self[topic]
        if envelope.schema_version not in spec.schema_versions:
            raise UndecodableMessage(
                topic, "schema_version", f"unknown schema version {envelope.schema_version}"
            )
        return envelope

    def payload(self, envelope: Envelope) -> BaseModel:
        """Validate the envelope's data against its topic's model."""
        spec = self[envelope.type]
        try:
            return spec.payload.model_validate(envelope.data)
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(p) for p in ("data", *first["loc"]))
            raise InvalidPayload(envelope.type, field, first["msg"]) from None


def _credit(
    name: str, payload: type[BaseModel], kind: Literal["command", "event"], description: str
) -> TopicSpec:
    return TopicSpec(name, payload, "account_id", kind, "billing", description=description)


TOPICS = TopicRegistry(
    [
        _credit("credit.reserve", credits.ReserveCredits, "command", "Hold credits for work"),
        _credit("credit.reserved", credits.CreditsReserved, "event", "A hold was placed"),
        _credit("credit.rejected", credits.CreditsRejected, "event", "A hold was refused"),
        _credit("credit.commit", credits.CommitCredits, "command", "Capture part of a hold"),
        _credit("credit.committed", credits.CreditsCommitted, "event", "A capture was made"),
        _credit("credit.release", credits.ReleaseCredits, "command", "Release what is left"),
        _credit("credit.released", credits.CreditsReleased, "event", "A hold ended unused"),
        _credit("credit.command_failed", credits.CreditCommandFailed, "event", "A command failed"),
        _credit("credit.granted", credits.CreditsGranted, "event", "Credits were granted"),
        _credit("balance.low", credits.BalanceLow, "event", "Available fell below threshold"),
        _credit("invoice.finalized", invoices.InvoiceChanged, "event", "An invoice was numbered"),
        _credit("invoice.paid", invoices.InvoiceChanged, "event", "An invoice was paid"),
        _credit("invoice.voided", invoices.InvoiceChanged, "event", "An invoice was voided"),
        _credit("payment.succeeded", invoices.PaymentChanged, "event", "A payment succeeded"),
        _credit("payment.failed", invoices.PaymentChanged, "event", "A payment attempt failed"),
        _credit("payment.refunded", invoices.PaymentChanged, "event", "A payment was refunded"),
        *(
            TopicSpec(
                f"site.{verb}",
                sites.SiteSnapshot,
                "site_id",
                "event",
                "integration",
                cleanup_policy="compact",
                description=f"Site snapshot ({verb})",
            )
            for verb in ("created", "updated", "deleted")
        ),
        # Keyed by integration_id (DESIGN §3): several integrations share a site, and compaction
        # keeps one record per key. Snapshots are versioned, so per-site order is not needed.
        *(
            TopicSpec(
                f"integration.{verb}",
                sites.IntegrationSnapshot,
                "integration_id",
                "event",
                "integration",
                cleanup_policy="compact",
                description=f"Integration snapshot ({verb})",
            )
            for verb in ("connected", "updated", "removed", "health_changed")
        ),
        TopicSpec(
            "site.synced",
            sites.SiteSynced,
            "site_id",
            "event",
            "integration",
            description="A page of a sync's inventory delta",
        ),
        *(
            TopicSpec(
                f"run.{verb}",
                runs.RunChanged,
                "run_id",
                "event",
                "automation",
                description=f"An automation run {verb}",
            )
            for verb in (
                "started",
                "rejected",
                "paused",
                "resumed",
                "cancelled",
                "completed",
                "failed",
                "yielded",
                "readmitted",
            )
        ),
        *(
            TopicSpec(
                f"stage.{verb}",
                runs.StageChanged,
                "run_id",
                "event",
                "automation",
                description=f"A pipeline stage {verb}",
            )
            for verb in ("started", "progress", "completed", "failed")
        ),
        TopicSpec(
            "image.generate",
            runs.GenerateImage,
            "run_id",
            "command",
            "automation",
            description="Generate one image of a run (work topic, bounded concurrency)",
        ),
        TopicSpec(
            "content.ready",
            runs.ContentReady,
            "site_id",
            "event",
            "automation",
            description="An article ready for publishing",
        ),
        TopicSpec(
            "inventory.item",
            publications.InventoryItemSnapshot,
            "item_id",
            "event",
            "integration",
            cleanup_policy="compact",
            description="One inventory item as a versioned snapshot (compacted, keyed per item)",
        ),
        *(
            TopicSpec(
                f"publication.{verb}",
                publications.PublicationChanged,
                "site_id",
                "event",
                "publishing",
                description=f"A publication {verb}",
            )
            for verb in ("scheduled", "completed", "failed", "unpublished")
        ),
    ]
)
