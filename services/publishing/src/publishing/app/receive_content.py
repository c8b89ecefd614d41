"""content.ready → the article stored (newest version), analyzed, interlinked, and one publication
per destination, approved or held per the site's settings."""

from __future__ import annotations

import uuid
from dataclasses import asdict
from datetime import datetime
from urllib.parse import urlsplit

from publishing.app.commands import ContentArrived
from publishing.app.scheduling import schedule
from publishing.domain.analyzer import ArticleInput, Report, analyze
from publishing.domain.errors import UnknownSite
from publishing.domain.linker import Injected, canonical, inject, rank
from publishing.domain.model import (
    Article,
    Integration,
    Publication,
    Site,
    Status,
    publication_slug,
)
from publishing.domain.settings import SiteSettings, approve
from publishing.domain.text import parse_fragment
from publishing.ports import Clock, UnitOfWork

CANDIDATE_LIMIT = 500
KEEP_AS_IS = frozenset({Status.CANCELLED, Status.UNPUBLISHED})


async def receive_content(cmd: ContentArrived, uow: UnitOfWork, clock: Clock) -> list[Publication]:
    """Returns the publications touched; an older or repeated version changes nothing."""
    now = clock.now()
    site = await uow.replicas.site(cmd.site_id)
    if site is None:
        raise UnknownSite(f"site {cmd.site_id} is not known (yet)")
    if site.account_id != cmd.account_id:
        return []  # not this account's site: never act on it
    known = await uow.articles.get(cmd.content_id, lock=True)
    if known is not None and (known.account_id != cmd.account_id or known.version >= cmd.version):
        return []
    settings = await uow.settings.get(cmd.site_id)
    article = Article(
        content_id=cmd.content_id,
        account_id=cmd.account_id,
        site_id=cmd.site_id,
        version=cmd.version,
        title=cmd.title,
        html=canonical(cmd.html),
        linked_html="",
        meta_title=cmd.meta_title,
        meta_description=cmd.meta_description,
        slug=cmd.slug,
        keywords=list(cmd.keywords),
        images=list(cmd.images),
        auto_publish=cmd.auto_publish,
        run_id=cmd.run_id,
    )
    await interlink(article, uow, settings, now, first_version=known is None)
    report = analysis(article, site, settings)
    article.score = report.score
    article.report = {"score": report.score, "checks": [asdict(c) for c in report.checks]}
    await uow.articles.save(article)
    if site.deleted:
        return []
    # a first version has no publications yet: one round trip less per article
    existing = {} if known is None else await publications_by_integration(uow, article.content_id)
    touched = []
    for integration in await destinations(uow, site, settings):
        touched.append(
            await _publication_for(article, report, integration, site, settings, uow, now, existing)
        )
    return touched


def analysis(article: Article, site: Site | None, settings: SiteSettings) -> Report:
    return analyze(
        ArticleInput(
            keyphrase=article.keyphrase,
            title=article.meta_title or article.title,
            slug=article.slug,
            meta_description=article.meta_description,
            html=article.linked_html or article.html,
            image_alts=tuple(i.alt for i in article.images),  # placed by the destination
            site_host=urlsplit(site.url).hostname or "" if site else "",
            target_words=settings.target_words,
        )
    )


async def interlink(
    article: Article,
    uow: UnitOfWork,
    settings: SiteSettings,
    now: datetime,
    first_version: bool = False,
) -> None:
    """Inject links into a fresh copy of the article; the previous version's links are replaced
    (a first version has none to look for)."""
    if not first_version:
        old = [link["link_id"] for link in await uow.links.active_of(article.content_id)]
        await uow.links.mark(old, "replaced", now)
    article.linked_html, injected = await link_html(article, uow, settings)
    await uow.links.add(article, injected, now)


async def link_html(
    article: Article, uow: UnitOfWork, settings: SiteSettings
) -> tuple[str, list[Injected]]:
    """The article's HTML with the links the linker would inject now (nothing recorded)."""
    if not settings.linking.enabled:
        return article.html, []
    candidates = await uow.replicas.inventory_candidates(article.site_id, CANDIDATE_LIMIT)
    candidates += await uow.articles.published_candidates(
        article.site_id, article.content_id, CANDIDATE_LIMIT
    )
    text = " ".join(parse_fragment(article.html).itertext())
    source = f"{article.title} {article.keyphrase} {text}"
    ranked = rank(source, candidates, settings.linking.min_similarity)
    return inject(
        article.html,
        ranked,
        article.keyphrase,
        settings.linking.max_per_1000_words,
        settings.linking.max_links,
    )


async def destinations(uow: UnitOfWork, site: Site, settings: SiteSettings) -> list[Integration]:
    usable = [i for i in await uow.replicas.integrations_of(site.site_id) if i.usable]
    if settings.default_destination is not None:
        return [i for i in usable if i.integration_id == settings.default_destination]
    return usable


async def publications_by_integration(
    uow: UnitOfWork, content_id: uuid.UUID
) -> dict[uuid.UUID, Publication]:
    return {p.integration_id: p for p in await uow.publications.for_article(content_id)}


async def _publication_for(
    article: Article,
    report: Report,
    integration: Integration,
    site: Site,
    settings: SiteSettings,
    uow: UnitOfWork,
    now: datetime,
    existing: dict[uuid.UUID, Publication] | None = None,
) -> Publication:
    """The article's publication to `integration`, created or updated; `existing` (the article's
    publications by integration) when the caller has read them already."""
    if existing is None:
        existing = await publications_by_integration(uow, article.content_id)
    publication = existing.get(integration.integration_id)
    approved, actor, why = approve(settings, article.auto_publish, report.score, report.failed)
    if publication is None:
        publication = Publication.create(
            account_id=article.account_id,
            site_id=article.site_id,
            content_id=article.content_id,
            integration_id=integration.integration_id,
            platform=integration.platform,
            slug=publication_slug(article.slug),
            content_version=article.version,
            score=report.score,
            hold_reason=why,
            actor=actor,
            now=now,
        )
        if approved:
            await schedule(uow, publication, site, settings, actor, why, now)
        await uow.publications.add(publication)
        return publication
    publication.content_version = article.version
    publication.score = report.score
    if publication.status in KEEP_AS_IS or publication.status == Status.PUBLISHING:
        # A running publish re-checks the version when it ends; cancelled stays cancelled.
        await uow.publications.save(publication)
        return publication
    if approved:
        await schedule(
            uow,
            publication,
            site,
            settings,
            actor,
            f"content version {article.version}: {why}",
            now,
        )
    elif publication.status != Status.PENDING_APPROVAL:
        publication.hold(why, actor, now)
    await uow.publications.save(publication)
    return publication
