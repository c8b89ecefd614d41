"""Inbound links: when an article is published, propose links *to* it from this platform's other
published articles on the site; accepting one injects it (caps and rules as for outbound links),
records it, and schedules the updated article's published copies (never clobbering an edit)."""

from __future__ import annotations

import contextlib
import functools
import uuid
from collections.abc import Sequence
from datetime import datetime

from publishing.app.scheduling import schedule
from publishing.domain.errors import LinkNotUndoable, NotFound
from publishing.domain.linker import LINK_ATTR, Candidate, inject, link_cap, rank_many
from publishing.domain.model import Article, Status, Suggestion
from publishing.domain.settings import SiteSettings
from publishing.domain.text import parse_fragment, words
from publishing.ports import Clock, UnitOfWork

SOURCE_LIMIT = 200
PROPOSALS_PER_ARTICLE = 5
"""Only the most relevant earlier articles get a suggestion: a link from everywhere is noise."""


# Every publish weighs every earlier published article of the site as a source: parsing each
# one's HTML again each time made proposals quadratic in the site's size (the publishing
# benchmark's gap with inbound suggestions on). An article's HTML only changes with a new
# version or an accepted link, so what is read from it is kept per HTML string.
@functools.lru_cache(maxsize=4096)
def _links_and_words(linked_html: str) -> tuple[int, int]:
    root = parse_fragment(linked_html)
    existing = sum(1 for a in root.iter("a") if a.get(LINK_ATTR))
    total = len(words(" ".join(str(b.text_content()) for b in root.iter("p", "li"))))
    return existing, total


@functools.lru_cache(maxsize=4096)
def _body_text(html: str) -> str:
    return " ".join(parse_fragment(html).itertext())


def _room(article: Article, settings: SiteSettings) -> int:
    existing, total = _links_and_words(article.linked_html)
    cap = link_cap(total, settings.linking.max_per_1000_words, settings.linking.max_links)
    return cap - existing


def _text(article: Article) -> str:
    return f"{article.title} {article.keyphrase} " + _body_text(article.html)


async def propose_inbound(
    uow: UnitOfWork, target: Article, url: str, settings: SiteSettings, now: datetime
) -> list[uuid.UUID]:
    """Suggestions (source → the newly published `target`); accepted at once when the site's
    `linking.inbound` is `auto`. Returns the new suggestion ids."""
    return await propose_inbound_many(uow, [(target, url)], settings, now)


async def propose_inbound_many(
    uow: UnitOfWork,
    targets: Sequence[tuple[Article, str]],
    settings: SiteSettings,
    now: datetime,
) -> list[uuid.UUID]:
    """`propose_inbound` for articles of one site published together (a scheduler pass): the
    site's published articles are read once, one TF-IDF fit ranks every source for every
    target, and the suggestions are written in one statement — per article, the reads and the
    fit were the publish path's largest own cost."""
    targets = [(t, url) for t, url in targets if url]
    if not targets or settings.linking.inbound == "off" or not settings.linking.enabled:
        return []
    site_id = targets[0][0].site_id
    ours = {t.content_id for t, _ in targets}
    published = [
        s
        for s in await uow.articles.published(site_id, None, SOURCE_LIMIT + len(ours))
        if _room(s, settings) > 0
    ]
    keys = {str(s.content_id): s for s in published}
    ranked = rank_many(
        [_text(t) for t, _ in targets],
        [Candidate(key, "", s.title, s.keyphrase, _text(s)) for key, s in keys.items()],
        settings.linking.min_similarity,
    )
    rows: list[Suggestion] = []
    for (target, url), relevant in zip(targets, ranked, strict=True):
        # as one article alone would see them: the site's latest others, up to the limit
        others = [str(s.content_id) for s in published if s.content_id != target.content_id]
        allowed = set(others[:SOURCE_LIMIT])
        candidate = Candidate(
            f"publication:{target.content_id}", url, target.title, target.keyphrase
        )
        placed_here = 0
        for found, similarity in relevant:
            if placed_here >= PROPOSALS_PER_ARTICLE:
                break
            source = keys[found.target_ref]
            if found.target_ref not in allowed or url in source.linked_html:
                continue
            _, placed = inject(
                source.linked_html, [(candidate, similarity)], source.keyphrase, 1000.0, 1
            )
            if not placed:
                continue
            placed_here += 1
            rows.append(
                Suggestion(
                    suggestion_id=uuid.uuid4(),
                    account_id=target.account_id,
                    site_id=target.site_id,
                    source_content_id=source.content_id,
                    target_content_id=target.content_id,
                    target_url=url,
                    anchor=placed[0].anchor,
                    similarity=placed[0].similarity,
                    created_at=now,
                )
            )
    proposed = await uow.links.propose_many(rows)
    if settings.linking.inbound == "auto":
        for suggestion_id in proposed:
            with contextlib.suppress(LinkNotUndoable):  # left as a proposal (or stale)
                await _apply(uow, suggestion_id, "rule:inbound_auto", settings, now)
    return proposed


async def accept_suggestion(
    uow: UnitOfWork,
    account_id: uuid.UUID,
    site_id: uuid.UUID,
    suggestion_id: uuid.UUID,
    actor: str,
    clock: Clock,
) -> uuid.UUID:
    """Inject the suggested link now; returns the link id (undoable like any other)."""
    await _owned(uow, account_id, site_id, suggestion_id)
    settings = await uow.settings.get(site_id)
    return await _apply(uow, suggestion_id, actor, settings, clock.now())


async def reject_suggestion(
    uow: UnitOfWork,
    account_id: uuid.UUID,
    site_id: uuid.UUID,
    suggestion_id: uuid.UUID,
    actor: str,
    clock: Clock,
) -> None:
    await _owned(uow, account_id, site_id, suggestion_id)
    await uow.links.decide(suggestion_id, "rejected", actor, clock.now())


async def _owned(
    uow: UnitOfWork, account_id: uuid.UUID, site_id: uuid.UUID, suggestion_id: uuid.UUID
) -> None:
    found = await uow.links.suggestion(suggestion_id)
    if found is None or (found["account_id"], found["site_id"]) != (account_id, site_id):
        raise NotFound("suggestion not found")
    if found["status"] != "proposed":
        raise LinkNotUndoable(f"the suggestion is {found['status']}")


async def _apply(
    uow: UnitOfWork, suggestion_id: uuid.UUID, actor: str, settings: SiteSettings, now: datetime
) -> uuid.UUID:
    found = await uow.links.suggestion(suggestion_id)
    assert found is not None
    source = await uow.articles.get(found["source_content_id"], lock=True)
    target = await uow.articles.get(found["target_content_id"])
    if source is None or target is None or _room(source, settings) <= 0:
        await uow.links.decide(suggestion_id, "stale", actor, now)
        raise LinkNotUndoable("the source article has no room for another link")
    candidate = Candidate(
        f"publication:{target.content_id}", found["target_url"], target.title, target.keyphrase
    )
    html, placed = inject(
        source.linked_html, [(candidate, found["similarity"])], source.keyphrase, 1000.0, 1
    )
    if not placed:
        await uow.links.decide(suggestion_id, "stale", actor, now)
        raise LinkNotUndoable("the anchor is no longer in the source article")
    source.linked_html = html
    await uow.articles.save(source)
    await uow.links.add(source, placed, now)
    await uow.links.decide(suggestion_id, "accepted", actor, now, placed[0].link_id)
    site = await uow.replicas.site(source.site_id)
    if site is not None:
        for publication in await uow.publications.for_article(source.content_id):
            if publication.status == Status.PUBLISHED:
                await schedule(
                    uow,
                    publication,
                    site,
                    settings,
                    actor,
                    f"inbound link to {target.title!r}",
                    now,
                    at=now,
                )
                await uow.publications.save(publication)
    return placed[0].link_id
