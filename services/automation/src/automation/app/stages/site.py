"""The site's description the prompts are rendered with."""

from __future__ import annotations

from typing import TYPE_CHECKING

from automation.app.run_context import RunContext

if TYPE_CHECKING:
    from automation.app.run_engine import RunEngine


async def site_variables(eng: RunEngine, ctx: RunContext) -> dict[str, str]:
    async with eng.unit_of_work() as uow:
        site = await uow.sites.site(ctx.account_id, ctx.site_id)
    if site is None:
        return {"site_name": "", "sector": "", "niche": "", "language": "en"}
    return {
        "site_name": site.name,
        "sector": site.sector or "",
        "niche": site.niche or "",
        "language": site.language or "en",
    }
