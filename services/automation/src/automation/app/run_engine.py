"""Driving one automation run (DESIGN §4-§5).

The worker holding a run's lease drives it: reserve credits, then stage by stage, item by item.
Every item is checkpointed under an idempotency key together with its capture (`credit.commit`) in
one transaction, so a resumed or taken-over run never redoes or recharges a finished item. Writes
are fenced by the lease token: a worker whose lease was taken over cannot write. Pause and cancel
take effect between items; holds are released when the run completes, is cancelled or fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from automation.domain.ai import AIError, AIFunction, AINotConfigured, AIQuotaExceeded
from automation.domain.config import AutomationConfig
from automation.domain.runs import (
    OPERATION,
    STAGES,
    LeaseLost,
    Price,
    estimate,
    item_quantity_ceiling,
)
from automation.ports import AIEngine, Clock, ImageStorage, RunLog, UnitOfWork
from igny8.contracts import credits as wire
from igny8.contracts.runs import ContentImage, ContentReady, GenerateImage, RunChanged, StageChanged

NAMESPACE = uuid.UUID("5b0f3c6e-7a57-4b8e-9f0e-1a6c0f3d2b11")


class Stop(Exception):
    def __init__(self, outcome: str) -> None:
        self.outcome = outcome
        super().__init__(outcome)


@dataclass
class RunEngine:
    unit_of_work: Callable[[], UnitOfWork]
    ai: AIEngine
    storage: ImageStorage
    log: RunLog
    clock: Clock
    worker_id: str
    image_url: Callable[[uuid.UUID], str]
    lease_ttl_s: float = 15.0
    reserve_wait_s: float = 60.0
    poll_s: float = 0.1
    max_provider_failures: int = 3
    image_concurrency: int = 4
    hold_ttl_s: int = 86_400
    _failures: dict[uuid.UUID, int] = field(default_factory=dict)
    _image_gate: asyncio.Semaphore = field(init=False)
    _last_progress: dict[tuple[uuid.UUID, int], float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._image_gate = asyncio.Semaphore(self.image_concurrency)  # AI image calls at once

    # -- lease -------------------------------------------------------------------------------

    async def drive(self, run_id: uuid.UUID) -> str:
        async with self.unit_of_work() as uow:
            token = await uow.store.acquire_lease(
                run_id, self.worker_id, self.clock.now(), self.lease_ttl_s
            )
            await uow.commit()
        if token is None:
            return "not_acquired"
        renewer = asyncio.create_task(self._renew(run_id, token))
        try:
            return await self._drive(run_id, token)
        except LeaseLost:
            self.log.write(run_id, None, "lease_lost", "another worker took the run over; stopping")
            return "lease_lost"
        except Stop as stop:
            return stop.outcome
        finally:
            renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await renewer
            with contextlib.suppress(Exception):
                async with self.unit_of_work() as uow:
                    run = await uow.store.run(run_id)
                    if run and run["fencing_token"] == token:
                        await uow.store.update_run(run_id, lease_owner=None, lease_expires_at=None)
                        await uow.commit()

    async def _renew(self, run_id: uuid.UUID, token: int) -> None:
        while True:
            await asyncio.sleep(self.lease_ttl_s / 3)
            async with self.unit_of_work() as uow:
                if not await uow.store.renew_lease(
                    run_id, token, self.clock.now(), self.lease_ttl_s
                ):
                    return
                await uow.commit()

    # -- events ------------------------------------------------------------------------------

    async def _run_event(
        self,
        uow: UnitOfWork,
        run: dict[str, Any],
        status: str,
        reason: str | None = None,
        **detail: Any,
    ) -> None:
        topic = {"running": "run.started", "resumed": "run.resumed"}.get(status, f"run.{status}")
        await uow.emit(
            topic,
            RunChanged(
                run_id=run["run_id"],
                site_id=run["site_id"],
                status="running" if status == "resumed" else status,
                stages=run["stages"],
                reason=reason,
                credits_charged=run["credits_charged"],
                detail=detail,
            ),
            run["account_id"],
            run["site_id"],
        )
        self.log.write(run["run_id"], None, f"run.{status}", reason or status, **detail)

    async def _stage_event(
        self, uow: UnitOfWork, run: dict[str, Any], verb: str, stage: int, tally: dict[str, Any]
    ) -> None:
        await uow.emit(
            f"stage.{verb}",
            StageChanged(
                run_id=run["run_id"],
                site_id=run["site_id"],
                stage=stage,
                name=STAGES[stage],
                done=tally.get("done", 0),
                total=tally.get("total", 0),
                failed=tally.get("failed", 0),
                skipped=tally.get("skipped", 0),
                credits=tally.get("credits", 0),
                partial=tally.get("partial", False),
                reason=tally.get("reason"),
            ),
            run["account_id"],
            run["site_id"],
        )

    # -- the run ---------------------------------------------------------------------------

    async def _drive(self, run_id: uuid.UUID, token: int) -> str:
        async with self.unit_of_work() as uow:
            run = await uow.store.guard(run_id, token)
        config = AutomationConfig.model_validate(run["config"])
        if run["status"] == "reserving":
            try:
                self.ai.ensure_configured()  # type: ignore[attr-defined]
            except AINotConfigured as error:
                await self._end(run, token, "failed", error.detail)
                return "failed"
            if not await self._reserve(run, token, config, initial=True):
                return (
                    "rejected"
                    if (await self._reload(run_id))["status"] == "rejected"
                    else "waiting"
                )
        done_stages = await self._completed_stages(run_id)
        for position, stage in enumerate(run["stages"]):
            if stage in done_stages:
                continue
            if position and config.delay_between_stages_s:
                await asyncio.sleep(config.delay_between_stages_s)
            await self._run_stage(run, token, config, stage)
        await self._end(run, token, "completed")
        return "completed"

    async def _reload(self, run_id: uuid.UUID) -> dict[str, Any]:
        async with self.unit_of_work() as uow:
            found = await uow.store.run(run_id)
            assert found is not None
            return dict(found)

    async def _completed_stages(self, run_id: uuid.UUID) -> set[int]:
        async with self.unit_of_work() as uow:
            results = await uow.store.stage_results(run_id)
        return {stage for stage, result in results.items() if result.get("status") == "completed"}

    async def _between_items(self, run: dict[str, Any], token: int, key: str | None = None) -> bool:
        """Pause and cancel take effect here. True when the item `key` is already done."""
        async with self.unit_of_work() as uow:
            current = await uow.store.guard(run["run_id"], token)
            done = key is not None and await uow.store.item_done(run["run_id"], key)
        if current["requested"] == "cancel":
            await self._end(run, token, "cancelled", "cancelled on request")
            raise Stop("cancelled")
        if current["requested"] == "pause":
            await self._pause(run, token, "requested")
        if current["status"] != "running" and run["status"] == "running":
            raise Stop(current["status"])  # paused or ended elsewhere (e.g. by an image worker)
        return done

    async def _pause(self, run: dict[str, Any], token: int, reason: str) -> None:
        async with self.unit_of_work() as uow:
            await uow.store.guard(run["run_id"], token)
            await uow.store.update_run(
                run["run_id"],
                status="paused",
                requested=None,
                pause_reason=reason,
                lease_owner=None,
                lease_expires_at=None,
            )
            await self._run_event(uow, await uow.store.run(run["run_id"]), "paused", reason)
            await uow.commit()
        raise Stop("paused")

    async def _end(
        self, run: dict[str, Any], token: int, status: str, reason: str | None = None
    ) -> None:
        """completed | cancelled | failed | rejected: release holds, announce, unlock the site."""
        # Captures and releases travel on different topics: release only once billing has
        # answered every capture, or a late capture would meet an ended reservation.
        deadline = asyncio.get_running_loop().time() + self.reserve_wait_s
        while asyncio.get_running_loop().time() < deadline:
            async with self.unit_of_work() as uow:
                if await uow.store.unsettled_captures(run["run_id"]) == 0:
                    break
            await asyncio.sleep(self.poll_s)
        async with self.unit_of_work() as uow:
            await uow.store.guard(run["run_id"], token)
            await self._release_holds(uow, run)
            await uow.store.update_run(
                run["run_id"],
                status=status,
                requested=None,
                error=reason if status == "failed" else None,
                ended_at=self.clock.now(),
                lease_owner=None,
                lease_expires_at=None,
            )
            current = await uow.store.run(run["run_id"])
            if status == "completed":
                config = AutomationConfig.model_validate(run["config"])
                for content in await uow.store.contents_of_run(run["run_id"]):
                    await uow.emit(
                        "content.ready",
                        ContentReady(
                            content_id=content["content_id"],
                            site_id=content["site_id"],
                            run_id=run["run_id"],
                            title=content["title"],
                            html=content["html"],
                            meta_title=content["meta_title"],
                            meta_description=content["meta_description"],
                            slug=content["slug"],
                            keywords=content["keywords"],
                            auto_publish=config.auto_publish,
                            images=[
                                ContentImage(
                                    url=self.image_url(i["image_id"]), alt=i["alt"], kind=i["kind"]
                                )
                                for i in content["images"]
                            ],
                        ),
                        run["account_id"],
                        run["site_id"],
                    )
            await self._run_event(uow, current, status, reason)
            await uow.commit()

    async def _release_holds(self, uow: UnitOfWork, run: dict[str, Any]) -> None:
        for hold in await uow.store.holds(run["run_id"]):
            if hold["status"] in ("requested", "reserved"):
                await uow.emit(
                    "credit.release",
                    wire.ReleaseCredits(reservation_id=hold["reservation_id"]),
                    run["account_id"],
                    run["site_id"],
                )
                await uow.store.update_hold(hold["reservation_id"], status="releasing")

    # -- credits -----------------------------------------------------------------------------

    async def _reserve(
        self,
        run: dict[str, Any],
        token: int,
        config: AutomationConfig,
        initial: bool,
        at_least: tuple[str, int] | None = None,
    ) -> bool:
        """Hold credits for the work in sight (plus the buffer). False: refused or still waiting."""
        async with self.unit_of_work() as uow:
            await uow.store.guard(run["run_id"], token)
            pending = [
                h for h in await uow.store.holds(run["run_id"]) if h["status"] == "requested"
            ]
            if pending:
                reservation_id = pending[0]["reservation_id"]
            else:
                quantities = estimate(
                    await uow.store.work_counts(run["site_id"]),
                    config,
                    run["stages"],
                    run.get("target"),
                )
                if at_least is not None:
                    quantities[at_least[0]] = max(quantities.get(at_least[0], 0), at_least[1])
                if not quantities:
                    quantities = {"clustering": 0}
                reservation_id = uuid.uuid4()
                await uow.store.add_hold(run["run_id"], run["account_id"], reservation_id)
                await uow.emit(
                    "credit.reserve",
                    wire.ReserveCredits(
                        reservation_id=reservation_id,
                        run_id=run["run_id"],
                        ttl_seconds=self.hold_ttl_s,
                        items=[
                            wire.ReserveItem(operation=op, quantity=q)
                            for op, q in quantities.items()
                        ],
                    ),
                    run["account_id"],
                    run["site_id"],
                )
                self.log.write(
                    run["run_id"],
                    None,
                    "credits.reserve",
                    "reserving credits",
                    quantities=quantities,
                )
            await uow.commit()
        deadline = asyncio.get_running_loop().time() + self.reserve_wait_s
        while asyncio.get_running_loop().time() < deadline:
            async with self.unit_of_work() as uow:
                hold = next(
                    h
                    for h in await uow.store.holds(run["run_id"])
                    if h["reservation_id"] == reservation_id
                )
            if hold["status"] == "reserved":
                if initial:
                    async with self.unit_of_work() as uow:
                        current = await uow.store.guard(run["run_id"], token)
                        await uow.store.update_run(
                            run["run_id"],
                            status="running",
                            started_at=current["started_at"] or self.clock.now(),
                        )
                        await self._run_event(
                            uow, current, "resumed" if current["started_at"] else "running"
                        )
                        await uow.commit()
                return True
            if hold["status"] == "rejected":
                reply = hold["reply"] or {}
                if initial and (await self._reload(run["run_id"]))["started_at"] is None:
                    async with self.unit_of_work() as uow:
                        await uow.store.guard(run["run_id"], token)
                        await uow.store.update_run(run["run_id"], rejection=reply)
                        await uow.commit()
                    await self._end(run, token, "rejected", reply.get("reason"))
                    return False
                await self._pause(
                    run, token, f"insufficient_credits: {reply.get('detail', '')}".strip()
                )
            await asyncio.sleep(self.poll_s)
        return False

    async def _hold_for(
        self,
        run: dict[str, Any],
        token: int,
        config: AutomationConfig,
        operation: str,
        ceiling: int,
    ) -> tuple[dict[str, Any], Price]:
        """A live hold that covers this item's most expensive outcome, topping up when short."""
        for _ in range(3):
            async with self.unit_of_work() as uow:
                holds = await uow.store.holds(run["run_id"])
            soon = self.clock.now() + timedelta(seconds=60)
            for hold in holds:
                price = hold["prices"].get(operation)
                if (
                    hold["status"] != "reserved"
                    or price is None
                    or (hold["expires_at"] and hold["expires_at"] < soon)
                ):
                    continue
                cost = Price(**price).credits_for(ceiling)
                if hold["remaining"] >= cost:
                    return hold, Price(**price)
            if any(
                h["status"] == "reserved" and h["expires_at"] and h["expires_at"] < soon
                for h in holds
            ) and not any(
                h["status"] == "reserved" and (not h["expires_at"] or h["expires_at"] >= soon)
                for h in holds
            ):
                self.log.write(
                    run["run_id"], None, "credits.expired", "the hold expired; reserving again"
                )
            if not await self._reserve(
                run, token, config, initial=False, at_least=(operation, ceiling)
            ):
                await self._pause(run, token, "credits: no reply from billing")
        await self._pause(run, token, "insufficient_credits")
        raise AssertionError("unreachable")

    # -- items -------------------------------------------------------------------------------

    async def _item(
        self,
        run: dict[str, Any],
        token: int,
        config: AutomationConfig,
        stage: int,
        key: str,
        work: Callable[[], Awaitable[tuple[Any, Any, int]]],
        save: Callable[[Any, Any], Awaitable[dict[str, Any]]],
    ) -> str:
        """One checkpointed unit of work: done, skipped (already done) or failed (not charged)."""
        run_id = run["run_id"]
        if await self._between_items(run, token, key):
            return "skipped"
        operation = OPERATION.get(stage)
        ceiling = item_quantity_ceiling(stage, config)
        if operation:  # make sure the most this item can cost is held before calling the AI
            _, price = await self._hold_for(run, token, config, operation, ceiling)
            if config.max_credits is not None:
                spent = (await self._reload(run_id))["credits_charged"]
                if spent + price.credits_for(ceiling) > config.max_credits:
                    await self._pause(
                        run, token, f"credit_cap_reached: {spent} of {config.max_credits} spent"
                    )
        try:
            result, usage, quantity = await work()
        except AINotConfigured as error:
            await self._end(run, token, "failed", error.detail)
            raise Stop("failed") from None
        except AIQuotaExceeded as error:
            await self._checkpoint_failure(run, stage, key, error)
            await self._pause(run, token, "provider_quota")
        except AIError as error:
            await self._checkpoint_failure(run, stage, key, error)
            self._failures[run_id] = self._failures.get(run_id, 0) + 1
            if self._failures[run_id] >= self.max_provider_failures:
                self._failures[run_id] = 0
                await self._pause(run, token, f"provider_failures: {error.detail}")
            return "failed"
        self._failures[run_id] = 0
        while True:
            async with self.unit_of_work() as uow:
                await uow.store.guard(run_id, token)
                if await uow.store.item_done(run_id, key):
                    return "skipped"
                credits, commit_id = 0, None
                if operation:
                    quantity = min(quantity, ceiling)
                    claimed = await self._claim(uow, run, operation, quantity)
                    if claimed is None:
                        await uow.rollback()
                        await self._hold_for(run, token, config, operation, ceiling)  # top up first
                        continue
                    reservation_id, credits = claimed
                    commit_id = uuid.uuid5(NAMESPACE, f"{run_id}:{key}")
                    await uow.emit(
                        "credit.commit",
                        wire.CommitCredits(
                            reservation_id=reservation_id,
                            commit_id=commit_id,
                            operation=operation,
                            quantity=quantity,
                            ref=wire.UsageRef(run_id=run_id, stage=stage, item_id=key[:200]),
                            usage=wire.Usage(
                                model=usage.model,
                                input_tokens=usage.input_tokens,
                                output_tokens=usage.output_tokens,
                                provider_cost_usd=usage.provider_cost_usd,
                            )
                            if usage
                            else None,
                        ),
                        run["account_id"],
                        run["site_id"],
                    )
                    current = await uow.store.run(run_id)
                    await uow.store.update_run(
                        run_id, credits_charged=current["credits_charged"] + credits
                    )
                detail = await save(uow.store, result)
                await uow.store.checkpoint(run_id, key, stage, "done", commit_id, credits, detail)
                await uow.commit()
                break
        self.log.write(run_id, stage, "item.done", key, credits=credits)
        if config.delay_within_stage_s:
            await asyncio.sleep(config.delay_within_stage_s)
        return "done"

    async def _claim(
        self, uow: UnitOfWork, run: dict[str, Any], operation: str, quantity: int
    ) -> tuple[uuid.UUID, int] | None:
        """Take the item's credits from a live hold, under row locks, so concurrent items never
        spend the same credits twice (billing would refuse the capture)."""
        soon = self.clock.now() + timedelta(seconds=60)
        for hold in await uow.store.holds_for_update(run["run_id"]):
            price = hold["prices"].get(operation)
            if (
                hold["status"] != "reserved"
                or price is None
                or (hold["expires_at"] and hold["expires_at"] < soon)
            ):
                continue
            credits = Price(**price).credits_for(quantity)
            if hold["remaining"] >= credits:
                await uow.store.update_hold(
                    hold["reservation_id"], remaining=hold["remaining"] - credits
                )
                return hold["reservation_id"], credits
        return None

    async def _checkpoint_failure(
        self, run: dict[str, Any], stage: int, key: str, error: AIError
    ) -> None:
        async with self.unit_of_work() as uow:
            await uow.store.checkpoint(
                run["run_id"],
                key,
                stage,
                "failed",
                detail={"error": type(error).__name__, "detail": error.detail[:500]},
            )
            await uow.commit()
        self.log.write(
            run["run_id"],
            stage,
            "item.failed",
            key,
            error=type(error).__name__,
            detail=error.detail[:200],
        )

    # -- stages ------------------------------------------------------------------------------

    async def _run_stage(
        self, run: dict[str, Any], token: int, config: AutomationConfig, stage: int
    ) -> None:
        async with self.unit_of_work() as uow:
            await uow.store.guard(run["run_id"], token)
            await self._stage_event(uow, run, "started", stage, {})
            await uow.commit()
        self.log.write(run["run_id"], stage, "stage.started", STAGES[stage])
        limit = config.max_items_per_stage.get(stage, 100_000)
        outcomes = await STAGE_RUNNERS[stage](self, run, token, config, limit)
        tally = {
            "done": outcomes.count("done"),
            "failed": outcomes.count("failed"),
            "skipped": outcomes.count("skipped"),
            "total": len(outcomes),
        }
        async with self.unit_of_work() as uow:
            await uow.store.guard(run["run_id"], token)
            credits = (await uow.store.item_tally(run["run_id"])).get(stage, {}).get("credits", 0)
            result = {
                **tally,
                "status": "completed",
                "partial": tally["failed"] > 0,
                "credits": credits,
                "skip_reasons": ["already done before a resume or takeover"]
                if tally["skipped"]
                else [],
            }
            await uow.store.save_stage_result(run["run_id"], stage, result)
            await self._stage_event(uow, run, "completed", stage, result)
            await uow.commit()
        self.log.write(run["run_id"], stage, "stage.completed", STAGES[stage], **result)

    async def _progress(self, run: dict[str, Any], stage: int, done: int, total: int) -> None:
        """stage.progress, at most about once a second per stage (and always at the end)."""
        now = asyncio.get_running_loop().time()
        mark = (run["run_id"], stage)
        if done < total and now - self._last_progress.get(mark, 0.0) < 1.0:
            return
        self._last_progress[mark] = now
        async with self.unit_of_work() as uow:
            await self._stage_event(uow, run, "progress", stage, {"done": done, "total": total})
            await uow.commit()

    async def stage_clusters(
        self, run: dict[str, Any], token: int, config: AutomationConfig, limit: int
    ) -> list[str]:
        outcomes: list[str] = []
        site = await self._site(run)
        processed = 0
        while processed < limit:
            async with self.unit_of_work() as uow:
                batch = await uow.store.new_keywords(
                    run["site_id"], min(config.batch(1), limit - processed)
                )
            if not batch:
                break
            processed += len(batch)
            key = "s1:" + str(
                uuid.uuid5(NAMESPACE, ",".join(sorted(str(k["keyword_id"]) for k in batch)))
            )
            by_keyword = {k["keyword"]: k["keyword_id"] for k in batch}

            async def work(batch: list[dict[str, Any]] = batch) -> tuple[Any, Any, int]:
                result = await self.ai.complete(
                    AIFunction.CLUSTER_KEYWORDS,
                    site,
                    {"keywords": [k["keyword"] for k in batch]},
                    4000,
                )
                return result.data, result.usage, 1

            async def save(
                store: Any, data: Any, by_keyword: dict[str, uuid.UUID] = by_keyword
            ) -> dict[str, Any]:
                made = await store.save_clusters(
                    run["account_id"], run["site_id"], run["run_id"], data["clusters"], by_keyword
                )
                return {"clusters": made, "keywords": len(by_keyword)}

            outcomes.append(await self._item(run, token, config, 1, key, work, save))
            await self._progress(run, 1, len(outcomes), len(outcomes))
            if outcomes[-1] == "failed":
                break  # the same keywords would come back; leave them for the next run
        return outcomes

    async def stage_ideas(
        self, run: dict[str, Any], token: int, config: AutomationConfig, limit: int
    ) -> list[str]:
        site = await self._site(run)
        async with self.unit_of_work() as uow:
            found = await uow.store.clusters_without_ideas(run["site_id"], limit)
        outcomes = []
        for cluster in found:

            async def work(cluster: dict[str, Any] = cluster) -> tuple[Any, Any, int]:
                async with self.unit_of_work() as uow:
                    members = await uow.store.cluster_keywords(cluster["cluster_id"])
                result = await self.ai.complete(
                    AIFunction.GENERATE_IDEAS,
                    {**site, "count": config.ideas_per_cluster},
                    {
                        "cluster": {"name": cluster["name"], "keywords": members},
                        "count": config.ideas_per_cluster,
                    },
                    4000,
                )
                ideas = result.data["ideas"][: config.ideas_per_cluster]
                return ideas, result.usage, len(ideas)

            async def save(
                store: Any, ideas: Any, cluster: dict[str, Any] = cluster
            ) -> dict[str, Any]:
                return {
                    "ideas": await store.save_ideas(
                        run["account_id"],
                        run["site_id"],
                        run["run_id"],
                        cluster["cluster_id"],
                        ideas,
                    )
                }

            outcomes.append(
                await self._item(run, token, config, 2, f"s2:{cluster['cluster_id']}", work, save)
            )
            await self._progress(run, 2, len(outcomes), len(found))
        return outcomes

    async def stage_tasks(
        self, run: dict[str, Any], token: int, config: AutomationConfig, limit: int
    ) -> list[str]:
        await self._between_items(run, token)
        async with self.unit_of_work() as uow:
            await uow.store.guard(run["run_id"], token)
            found = await uow.store.ideas_without_tasks(run["site_id"], limit)
            made = await uow.store.create_tasks(
                run["account_id"], run["site_id"], run["run_id"], [i["idea_id"] for i in found]
            )
            await uow.store.checkpoint(
                run["run_id"], f"s3:{uuid.uuid4()}", 3, "done", detail={"tasks": made}
            )
            await uow.commit()
        return ["done"] * made

    async def stage_content(
        self, run: dict[str, Any], token: int, config: AutomationConfig, limit: int
    ) -> list[str]:
        site = await self._site(run)
        target = run.get("target")
        async with self.unit_of_work() as uow:
            if target:
                found = await uow.store.task_for_regeneration(
                    run["site_id"], uuid.UUID(target["task_id"])
                )
            else:
                found = await uow.store.pending_tasks(run["site_id"], limit)
        outcomes = []
        for task in found:

            async def work(task: dict[str, Any] = task) -> tuple[Any, Any, int]:
                idea = {
                    k: task[k]
                    for k in ("title", "brief", "outline", "target_keywords", "structure")
                }
                result = await self.ai.complete(
                    AIFunction.GENERATE_CONTENT,
                    {**site, "target_words": config.target_word_count},
                    {"idea": idea, "target_words": config.target_word_count},
                    max(2000, config.target_word_count * 3),
                )
                words = len(_strip_tags(result.data["html"]).split())
                return result.data, result.usage, words

            async def save(store: Any, article: Any, task: dict[str, Any] = task) -> dict[str, Any]:
                words = len(_strip_tags(article["html"]).split())
                if target:  # the new text replaces the article only now, when it exists
                    await store.replace_content(
                        uuid.UUID(target["content_id"]), run["run_id"], article, words
                    )
                    return {"content_id": target["content_id"], "words": words, "regenerated": True}
                content_id = await store.save_content(
                    run["account_id"],
                    run["site_id"],
                    run["run_id"],
                    task["task_id"],
                    article,
                    words,
                )
                return {"content_id": str(content_id), "words": words}

            key = f"s4r:{run['run_id']}" if target else f"s4:{task['task_id']}"
            outcomes.append(await self._item(run, token, config, 4, key, work, save))
            await self._progress(run, 4, len(outcomes), len(found))
        return outcomes

    async def stage_prompts(
        self, run: dict[str, Any], token: int, config: AutomationConfig, limit: int
    ) -> list[str]:
        async with self.unit_of_work() as uow:
            found = await uow.store.contents_without_prompts(run["site_id"], limit)
        outcomes = []
        for content in found:

            async def work(content: dict[str, Any] = content) -> tuple[Any, Any, int]:
                result = await self.ai.complete(
                    AIFunction.GENERATE_IMAGE_PROMPTS,
                    {"inline_count": config.inline_images},
                    {
                        "title": content["title"],
                        "keywords": content["keywords"],
                        "inline_count": config.inline_images,
                    },
                    2000,
                )
                return result.data, result.usage, 1

            async def save(
                store: Any, prompts: Any, content: dict[str, Any] = content
            ) -> dict[str, Any]:
                made = await store.save_prompts(
                    run["account_id"],
                    run["site_id"],
                    content["content_id"],
                    prompts,
                    config.inline_images,
                )
                return {"prompts": made}

            outcomes.append(
                await self._item(run, token, config, 5, f"s5:{content['content_id']}", work, save)
            )
            await self._progress(run, 5, len(outcomes), len(found))
        return outcomes

    async def stage_images(
        self, run: dict[str, Any], token: int, config: AutomationConfig, limit: int
    ) -> list[str]:
        """Stage 6 goes through the `image.generate` work topic: one fenced command per image,
        generated by the workers' image consumers with bounded concurrency; the driver waits,
        still honouring pause and cancel."""
        async with self.unit_of_work() as uow:
            found = await uow.store.prompts_without_images(run["site_id"], limit)
        keys = {f"s6:{p['prompt_id']}": p for p in found}
        async with self.unit_of_work() as uow:
            await uow.store.guard(run["run_id"], token)
            for key, prompt in keys.items():
                if not await uow.store.item_done(run["run_id"], key):
                    await uow.emit(
                        "image.generate",
                        GenerateImage(
                            run_id=run["run_id"],
                            site_id=run["site_id"],
                            prompt_id=prompt["prompt_id"],
                            fencing_token=token,
                        ),
                        run["account_id"],
                        run["site_id"],
                    )
            await uow.commit()
        reported = -1
        while True:
            await self._between_items(run, token)
            async with self.unit_of_work() as uow:
                states = await uow.store.item_states(run["run_id"], list(keys))
            settled = [s for s in states.values() if s in ("done", "failed")]
            if len(settled) != reported:
                reported = len(settled)
                await self._progress(run, 6, reported, len(keys))
            if len(settled) == len(keys):
                return [states[k] for k in keys]
            await asyncio.sleep(self.poll_s)

    async def image_item(self, run_id: uuid.UUID, token: int, prompt_id: uuid.UUID) -> str:
        """Handle one `image.generate` command (in any worker). A command from a worker whose
        lease was taken over, or for a run that is no longer running, does nothing: the run's
        current driver enqueues what is still missing when it gets to stage 6 again."""
        async with self.unit_of_work() as uow:
            run = await uow.store.run(run_id)
            prompt = await uow.store.prompt(prompt_id)
        if (
            run is None
            or prompt is None
            or run["status"] != "running"
            or run["fencing_token"] != token
        ):
            return "ignored"
        config = AutomationConfig.model_validate(run["config"])
        image_id = uuid.uuid5(NAMESPACE, f"image:{prompt_id}")

        async def work() -> tuple[Any, Any, int]:
            async with self._image_gate:
                image = await self.ai.image(prompt["prompt"], config.image_size)
            return image.png, image.usage, 1

        async def save(store: Any, png: bytes) -> dict[str, Any]:
            key = await self.storage.save(prompt["account_id"], prompt["site_id"], image_id, png)
            width, height = struct.unpack(">II", png[16:24])
            await store.save_image(prompt, key, width, height, len(png))
            return {"image": key}

        try:
            return await self._item(run, token, config, 6, f"s6:{prompt_id}", work, save)
        except (Stop, LeaseLost) as stopped:
            return f"stopped: {stopped}"

    async def _site(self, run: dict[str, Any]) -> dict[str, Any]:
        async with self.unit_of_work() as uow:
            site = await uow.store.site(run["account_id"], run["site_id"]) or {}
        return {
            "site_name": site.get("name", ""),
            "sector": site.get("sector", ""),
            "niche": site.get("niche", ""),
            "language": site.get("language", "en"),
        }


def _strip_tags(html: str) -> str:
    import re

    return re.sub(r"<[^>]+>", " ", html)


STAGE_RUNNERS: dict[
    int, Callable[[RunEngine, dict[str, Any], int, AutomationConfig, int], Awaitable[list[str]]]
] = {
    1: RunEngine.stage_clusters,
    2: RunEngine.stage_ideas,
    3: RunEngine.stage_tasks,
    4: RunEngine.stage_content,
    5: RunEngine.stage_prompts,
    6: RunEngine.stage_images,
}
