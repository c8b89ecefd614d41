"""The sites integration announced, their automation config and schedule state."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert

from automation.adapters.sqlalchemy_rows import SessionRepository
from automation.adapters.sqlalchemy_tables import (
    automation_configs,
    known_sites,
    schedule_state,
)
from automation.domain.config import AutomationConfig
from automation.domain.library import ScheduledSite, Site


class SqlAlchemySiteRepository(SessionRepository):
    async def site(self, account_id: uuid.UUID, site_id: uuid.UUID) -> Site | None:
        found = await self.session.execute(
            sa.select(
                known_sites.c.site_id,
                known_sites.c.account_id,
                known_sites.c.name,
                known_sites.c.url,
                known_sites.c.sector,
                known_sites.c.niche,
                known_sites.c.language,
            ).where(
                known_sites.c.site_id == site_id,
                known_sites.c.account_id == account_id,
                ~known_sites.c.deleted,
            )
        )
        row = found.first()
        return Site(**row._mapping) if row is not None else None

    async def config(self, site_id: uuid.UUID) -> AutomationConfig | None:
        found = await self.session.execute(
            sa.select(automation_configs.c.config).where(automation_configs.c.site_id == site_id)
        )
        stored = found.scalar()
        return AutomationConfig.model_validate(stored) if stored else None

    async def save_config(
        self, account_id: uuid.UUID, site_id: uuid.UUID, config: AutomationConfig
    ) -> None:
        statement = insert(automation_configs).values(
            site_id=site_id, account_id=account_id, config=config.model_dump(mode="json")
        )
        await self.session.execute(
            statement.on_conflict_do_update(
                index_elements=[automation_configs.c.site_id],
                set_={"config": statement.excluded.config, "updated_at": sa.func.now()},
            )
        )

    async def scheduled_sites(self) -> list[ScheduledSite]:
        found = await self.session.execute(
            sa.select(
                automation_configs.c.site_id,
                automation_configs.c.account_id,
                automation_configs.c.config,
                schedule_state.c.last_occurrence,
            )
            .join(known_sites, known_sites.c.site_id == automation_configs.c.site_id)
            .outerjoin(schedule_state, schedule_state.c.site_id == automation_configs.c.site_id)
            .where(
                ~known_sites.c.deleted,
                automation_configs.c.config["schedule"]["frequency"].astext != "none",
            )
        )
        return [ScheduledSite(**row._mapping) for row in found]

    async def mark_occurrence(self, site_id: uuid.UUID, occurrence: datetime, outcome: str) -> None:
        statement = insert(schedule_state).values(
            site_id=site_id, last_occurrence=occurrence, last_outcome=outcome
        )
        await self.session.execute(
            statement.on_conflict_do_update(
                index_elements=[schedule_state.c.site_id],
                set_={
                    "last_occurrence": statement.excluded.last_occurrence,
                    "last_outcome": statement.excluded.last_outcome,
                },
            )
        )
