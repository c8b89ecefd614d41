"""The AI optimizer (issue 10 §2), paid through the credit saga exactly as automation's runs are.

1. `request_optimization`: the article's failing checks the optimizer can fix are recorded with
   the score before, and `optimization` credits for the article's words are reserved
   (`credit.reserve`). One optimization per article version: a repeated request (or two at once)
   answers the same one; a failed or rejected one may be asked for again.
2. Billing's answer (`on_credit_reply`): reserved → `ready`; rejected → `rejected` with the reason
   (e.g. insufficient credits), nothing charged.
3. `Optimizing.run` (a timer, one replica): under a lease, the model call happens outside any
   transaction; then, in one: the usage is captured from the hold (`credit.commit`, a
   deterministic commit id, never more than was reserved — the quantity is the reserved one), the
   rest released, the answer applied to the parts the checks name, the article relinked and
   re-analyzed, and the better version kept (the score after must beat the score before). A kept
   version is re-published where the article is published, and scheduled per the site's approval
   where it waits. A failed model call charges nothing and releases the hold; an article that
   changed version meanwhile (before the call or during it) is left alone (`stale`), nothing is
   charged and the hold released.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel

from igny8.ai import AIError, AIUsage
from igny8.contracts import credits as wire
from igny8.credit_saga import (
    Emit,
    HoldStatus,
    apply_reply,
    claim,
    close_after_capture,
    release_confirmed,
    request_hold,
    resend_reserve,
)
from publishing.app.receive_content import _publication_for, analysis, destinations, link_html
from publishing.domain.errors import NotFound, NothingToOptimize
from publishing.domain.model import Article
from publishing.domain.optimizer import apply, messages, to_fix
from publishing.domain.text import parse_fragment, words
from publishing.ports import Clock, Optimizer, UnitOfWork

OPERATION = "optimization"
LIVE = ("reserving", "ready", "running")
COMMIT_NAMESPACE = uuid.UUID("0c3d7a52-6a55-4c53-9f1e-5b8f3f0e6a10")


def _emitter(uow: UnitOfWork, account_id: uuid.UUID, site_id: uuid.UUID) -> Emit:
    async def emit(topic: str, payload: BaseModel) -> None:
        await uow.emit(topic, payload, account_id, site_id)

    return emit


def _checks(article: Article) -> list[dict[str, Any]]:
    found = article.report.get("checks", [])
    return [c for c in found if isinstance(c, dict)] if isinstance(found, list) else []


def view(row: dict[str, Any]) -> dict[str, Any]:
    """What the API shows of an optimization."""
    keys = (
        "optimization_id",
        "content_id",
        "article_version",
        "status",
        "checks",
        "quantity",
        "score_before",
        "score_after",
        "kept",
        "diff",
        "credits",
        "reason",
        "detail",
        "requested_by",
        "created_at",
        "updated_at",
    )
    return {k: row.get(k) for k in keys}


async def request_optimization(
    uow: UnitOfWork,
    account_id: uuid.UUID,
    site_id: uuid.UUID,
    content_id: uuid.UUID,
    user: str,
    clock: Clock,
    hold_ttl_s: int,
) -> tuple[dict[str, Any], bool]:
    """The optimization (new, or the live one of this article version) and whether it is new."""
    article = await uow.articles.get(content_id)
    if article is None or (article.account_id, article.site_id) != (account_id, site_id):
        raise NotFound("article not found")
    checks = to_fix(_checks(article))
    if not checks:
        raise NothingToOptimize("every check the optimizer can fix passes already")
    now = clock.now()
    quantity = max(1, len(words(" ".join(parse_fragment(article.html).itertext()))))
    row = await uow.optimizations.add(
        {
            "optimization_id": uuid.uuid4(),
            "account_id": account_id,
            "site_id": site_id,
            "content_id": content_id,
            "article_version": article.version,
            "status": "reserving",
            "checks": checks,
            "quantity": quantity,
            "score_before": article.score,
            "requested_by": user,
            "created_at": now,
            "updated_at": now,
        }
    )
    if row.pop("created"):
        await request_hold(
            uow.holds,
            _emitter(uow, account_id, site_id),
            row["optimization_id"],
            account_id,
            {OPERATION: quantity},
            hold_ttl_s,
        )
        return row, True
    return row, False


async def on_credit_reply(
    uow: UnitOfWork, payload: BaseModel, account_id: uuid.UUID | None, clock: Clock
) -> None:
    """Billing's answer to one of our reserves (others' holds are not in our book)."""
    reservation = getattr(payload, "reservation_id", None)
    if reservation is None:
        return
    owner = await uow.holds.owner_of(reservation)
    if owner is None:
        return
    row = await uow.optimizations.get(owner, lock=True)
    assert row is not None

    if isinstance(payload, wire.CreditsCommitted):
        await _after_capture(uow, row, payload)
        return

    async def live(_: uuid.UUID) -> bool:
        return bool(row["status"] == "reserving")

    await apply_reply(uow.holds, _emitter(uow, row["account_id"], row["site_id"]), payload, live)
    if row["status"] != "reserving":
        return
    hold = await uow.holds.hold(reservation)
    assert hold is not None
    now = clock.now()
    if hold.status is HoldStatus.RESERVED:
        await uow.optimizations.update(owner, status="ready", updated_at=now)
    elif hold.status is HoldStatus.REJECTED and isinstance(payload, wire.CreditsRejected):
        await uow.optimizations.update(
            owner,
            status="rejected",
            reason=payload.reason,
            detail=(payload.detail or "")[:500] or None,
            updated_at=now,
        )


async def _after_capture(
    uow: UnitOfWork, row: dict[str, Any], payload: wire.CreditsCommitted
) -> None:
    """Billing answered the capture: what the hold has left goes back now (sent beside the
    capture, the release could have been applied first and left the optimization unbilled)."""
    hold = await uow.holds.hold(payload.reservation_id)
    if hold is None or hold.status is not HoldStatus.RESERVED or row["status"] == "running":
        return
    if payload.remaining_hold > 0:
        await release_confirmed(
            uow.holds, _emitter(uow, row["account_id"], row["site_id"]), row["optimization_id"]
        )
    else:
        await close_after_capture(uow.holds, row["optimization_id"])


@dataclass(frozen=True)
class OptimizerPolicy:
    lease_s: float
    hold_ttl_s: int
    resend_after_s: float


class Optimizing:
    """Runs ready optimizations: the model call outside a transaction, the outcome in one."""

    def __init__(self, uow_factory, optimizer: Optimizer, clock: Clock, policy: OptimizerPolicy):  # type: ignore[no-untyped-def]
        self._uow = uow_factory
        self._optimizer = optimizer
        self._clock = clock
        self._policy = policy

    async def tick(self, limit: int = 4) -> int:
        """One pass: unanswered reserves re-sent, due optimizations run; how many ran."""
        now = self._clock.now()
        async with self._uow() as uow:
            before = now - timedelta(seconds=self._policy.resend_after_s)
            for optimization_id in await uow.optimizations.unanswered(before, limit):
                row = await uow.optimizations.get(optimization_id)
                assert row is not None
                for hold in await uow.holds.holds(optimization_id):
                    if hold.status is HoldStatus.REQUESTED:
                        emit = _emitter(uow, row["account_id"], row["site_id"])
                        await resend_reserve(emit, hold, self._policy.hold_ttl_s)
                await uow.optimizations.update(optimization_id, updated_at=now)
            due = await uow.optimizations.due(now, limit)
            lease = now + timedelta(seconds=self._policy.lease_s)
            for optimization_id in due:
                await uow.optimizations.update(
                    optimization_id, status="running", lease_until=lease, updated_at=now
                )
            await uow.commit()
        for optimization_id in due:
            await self.run(optimization_id)
        return len(due)

    async def run(self, optimization_id: uuid.UUID) -> str:
        async with self._uow() as uow:
            row = await uow.optimizations.get(optimization_id)
            article = await uow.articles.get(row["content_id"]) if row else None
        if row is None or row["status"] != "running" or article is None:
            return "skipped"
        if article.version != row["article_version"]:
            return await self._end(row, "stale", reason="article_changed")
        why = {c["name"]: str(c.get("why", "")) for c in _checks(article)}
        try:
            answer, usage = await self._optimizer.propose(messages(article, row["checks"], why))
        except AIError as error:
            return await self._end(
                row, "failed", reason=f"ai_{type(error).__name__}", detail=error.detail
            )
        return await self._finish(row, answer, usage)

    async def _end(self, row: dict[str, Any], status: str, **values: Any) -> str:
        """Nothing to charge: the hold goes back."""
        async with self._uow() as uow:
            now = self._clock.now()
            current = await uow.optimizations.get(row["optimization_id"], lock=True)
            if current is None or current["status"] != "running":
                return "skipped"
            emit = _emitter(uow, row["account_id"], row["site_id"])
            await release_confirmed(uow.holds, emit, row["optimization_id"])
            await uow.optimizations.update(
                row["optimization_id"], status=status, lease_until=None, updated_at=now, **values
            )
            await uow.commit()
        return status

    async def _finish(self, row: dict[str, Any], answer: dict[str, Any], usage: AIUsage) -> str:
        async with self._uow() as uow:
            now = self._clock.now()
            current = await uow.optimizations.get(row["optimization_id"], lock=True)
            if current is None or current["status"] != "running":
                return "skipped"  # another worker took it over and finished it
            article = await uow.articles.get(row["content_id"], lock=True)
            assert article is not None
            emit = _emitter(uow, row["account_id"], row["site_id"])
            if article.version != row["article_version"]:
                # edited during the model call: the answer is for a version that is gone and
                # is not applied, so nothing is charged for it — the hold goes back whole
                await release_confirmed(uow.holds, emit, row["optimization_id"])
                await uow.optimizations.update(
                    row["optimization_id"],
                    status="stale",
                    reason="article_changed",
                    credits=0,
                    lease_until=None,
                    updated_at=now,
                )
                await uow.commit()
                return "stale"
            credits = await claim(
                uow.holds,
                emit,
                row["optimization_id"],
                OPERATION,
                row["quantity"],
                uuid.uuid5(COMMIT_NAMESPACE, str(row["optimization_id"])),
                now,
                usage=wire.Usage(
                    model=usage.model,
                    input_tokens=usage.input_tokens,
                    output_tokens=usage.output_tokens,
                    provider_cost_usd=usage.provider_cost_usd,
                ),
                ref=wire.UsageRef(item_id=f"optimization:{row['optimization_id']}"),
            )
            values: dict[str, Any]
            if credits is None:  # the hold expired under a very slow call: nothing is charged
                await release_confirmed(uow.holds, emit, row["optimization_id"])
                status, values = "failed", {"reason": "hold_expired"}
            else:
                # no release beside the commit: it could overtake it (see close_after_capture)
                await close_after_capture(uow.holds, row["optimization_id"])
                values = await self._keep_better(uow, article, answer, row, now)
                status, values = "completed", {**values, "credits": credits}
            await uow.optimizations.update(
                row["optimization_id"], status=status, lease_until=None, updated_at=now, **values
            )
            await uow.commit()
        return status

    async def _keep_better(
        self,
        uow: UnitOfWork,
        article: Article,
        answer: dict[str, Any],
        row: dict[str, Any],
        now: datetime,
    ) -> dict[str, Any]:
        optimized, changes = apply(article, answer, row["checks"])
        site = await uow.replicas.site(article.site_id)
        settings = await uow.settings.get(article.site_id)
        optimized.linked_html, injected = await link_html(optimized, uow, settings)
        report = analysis(optimized, site, settings)
        diff = [asdict(c) for c in changes]
        kept = bool(changes) and report.score > row["score_before"]
        if kept:
            old = [link["link_id"] for link in await uow.links.active_of(article.content_id)]
            await uow.links.mark(old, "replaced", now)
            await uow.links.add(optimized, injected, now)
            optimized.score = report.score
            optimized.report = {"score": report.score, "checks": [asdict(c) for c in report.checks]}
            await uow.articles.save(optimized)
            if site is not None and not site.deleted:
                for integration in await destinations(uow, site, settings):
                    await _publication_for(optimized, report, integration, site, settings, uow, now)
        return {"score_after": report.score, "kept": kept, "diff": diff}


async def optimizations_of(
    uow: UnitOfWork, account_id: uuid.UUID, site_id: uuid.UUID, content_id: uuid.UUID
) -> list[dict[str, Any]]:
    article = await uow.articles.get(content_id)
    if article is None or (article.account_id, article.site_id) != (account_id, site_id):
        raise NotFound("article not found")
    return [view(r) for r in await uow.optimizations.of_article(content_id)]
