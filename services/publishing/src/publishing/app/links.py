"""Undoing an injected link by its id: the article's HTML goes back to exactly what it was
without it, the analysis is refreshed, and published copies are scheduled for an update."""

from __future__ import annotations

import uuid
from dataclasses import asdict

from publishing.app.receive_content import analysis
from publishing.app.scheduling import schedule
from publishing.domain.errors import LinkNotUndoable, NotFound
from publishing.domain.linker import undo
from publishing.domain.model import Status
from publishing.ports import Clock, UnitOfWork


async def undo_link(
    uow: UnitOfWork,
    account_id: uuid.UUID,
    site_id: uuid.UUID,
    link_id: uuid.UUID,
    user: str,
    clock: Clock,
) -> str:
    link = await uow.links.get(link_id)
    if link is None or (link["account_id"], link["site_id"]) != (account_id, site_id):
        raise NotFound("link not found")
    if link["status"] != "active":
        raise LinkNotUndoable(f"the link is {link['status']}")
    article = await uow.articles.get(link["source_content_id"], lock=True)
    assert article is not None
    restored = undo(article.linked_html, link_id)
    if restored is None:
        raise LinkNotUndoable("the link is no longer in the article")
    now = clock.now()
    article.linked_html = restored
    site = await uow.replicas.site(site_id)
    settings = await uow.settings.get(site_id)
    report = analysis(article, site, settings)
    article.score = report.score
    article.report = {"score": report.score, "checks": [asdict(c) for c in report.checks]}
    await uow.articles.save(article)
    await uow.links.mark([link_id], "undone", now)
    if site is not None:
        for publication in await uow.publications.for_article(article.content_id):
            if publication.status == Status.PUBLISHED:
                await schedule(
                    uow, publication, site, settings, user, f"link {link_id} undone", now, at=now
                )
                await uow.publications.save(publication)
    return restored
