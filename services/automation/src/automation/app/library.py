"""What a person's delete takes with it (policy, not storage): a cluster's keywords become
plannable again, a deleted task's idea is plannable again, an image's prompt stays so the next run
draws it again, and nothing is left hanging off a deleted row."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from automation.app.content_edits import edit_content
from automation.app.runs import site_config
from automation.app.site_work import known_site
from automation.domain.errors import InvalidInput, NotFound
from automation.domain.library import ItemEdit, LibraryKind
from automation.ports import UnitOfWork

K = LibraryKind


async def delete_item(
    uow: UnitOfWork,
    kind: LibraryKind,
    account_id: uuid.UUID,
    site_id: uuid.UUID,
    item_id: uuid.UUID,
) -> None:
    await known_site(uow, account_id, site_id)  # another account's site: 404 first
    found = await uow.library.get_item(kind, account_id, site_id, item_id)
    if found is None:
        raise NotFound(f"{kind} item not found")
    lib = uow.library
    if kind is K.IMAGES:  # the prompt stays: the next run draws the image again
        await lib.delete(K.IMAGES, [item_id])
        return
    if kind is K.TASKS:  # its idea becomes plannable again
        await lib.delete(K.CONTENT, await lib.ids(K.CONTENT, "task_id", [item_id]))
        await lib.delete(K.TASKS, [item_id])
        if found.idea_id is not None:
            await lib.set_ideas_new([found.idea_id])
        return
    if kind is K.CONTENT:
        await lib.delete(K.CONTENT, [item_id])
        return
    if kind is K.CLUSTERS:  # its keywords become plannable again
        await lib.release_keywords(item_id)
        idea_ids = await lib.ids(K.IDEAS, "cluster_id", [item_id])
    else:
        idea_ids = [item_id]
    task_ids = await lib.ids(K.TASKS, "idea_id", idea_ids)
    await lib.delete(K.CONTENT, await lib.ids(K.CONTENT, "task_id", task_ids))
    await lib.delete(K.TASKS, task_ids)
    await lib.delete(K.IDEAS, idea_ids)
    if kind is K.CLUSTERS:
        await lib.delete(K.CLUSTERS, [item_id])


async def edit_item(
    uow: UnitOfWork,
    kind: LibraryKind,
    account_id: uuid.UUID,
    site_id: uuid.UUID,
    item_id: uuid.UUID,
    changes: ItemEdit,
    image_url: Callable[[uuid.UUID], str],
) -> None:
    """A person's edit of a library row (the caller reads the row afterwards through its
    queries). An article's edit that changes what a reader sees gives it a new version
    (`content_edits`)."""
    await known_site(uow, account_id, site_id)  # another account's site: 404 before anything
    if not changes:
        raise InvalidInput("nothing to change")
    if kind is K.CONTENT:
        config = await site_config(uow, account_id, site_id)
        await edit_content(
            uow, account_id, site_id, item_id, changes, image_url, config.auto_publish
        )
        return
    if not await uow.library.update_item(kind, account_id, site_id, item_id, changes):
        raise NotFound(f"{kind} item not found")


async def delete_keyword(
    uow: UnitOfWork, account_id: uuid.UUID, site_id: uuid.UUID, keyword_id: uuid.UUID
) -> None:
    await known_site(uow, account_id, site_id)
    if not await uow.library.delete_keyword(account_id, site_id, keyword_id):
        raise NotFound("keyword not found")


async def edit_keyword(
    uow: UnitOfWork,
    account_id: uuid.UUID,
    site_id: uuid.UUID,
    keyword_id: uuid.UUID,
    changes: ItemEdit,
) -> None:
    await known_site(uow, account_id, site_id)  # another account's site: 404 before anything
    if not changes:
        raise InvalidInput("nothing to change")
    if not await uow.library.update_item(K.KEYWORDS, account_id, site_id, keyword_id, changes):
        raise NotFound("keyword not found")
