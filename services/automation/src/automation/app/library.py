"""What a person's delete takes with it (policy, not storage): a cluster's keywords become
plannable again, a deleted task's idea is plannable again, an image's prompt stays so the next run
draws it again, and nothing is left hanging off a deleted row."""

from __future__ import annotations

import uuid

from automation.domain.errors import NotFound
from automation.ports import UnitOfWork


async def delete_item(
    uow: UnitOfWork, kind: str, account_id: uuid.UUID, site_id: uuid.UUID, item_id: uuid.UUID
) -> None:
    found = await uow.library.get_item(kind, account_id, site_id, item_id)
    if found is None:
        raise NotFound(f"{kind} item not found")
    lib = uow.library
    if kind == "images":  # the prompt stays: the next run draws the image again
        await lib.delete("images", [item_id])
        return
    if kind == "tasks":  # its idea becomes plannable again
        await lib.delete("content", await lib.ids("content", "task_id", [item_id]))
        await lib.delete("tasks", [item_id])
        await lib.set_ideas_new([found["idea_id"]])
        return
    if kind == "content":
        await lib.delete("content", [item_id])
        return
    if kind == "clusters":  # its keywords become plannable again
        await lib.release_keywords(item_id)
        idea_ids = await lib.ids("ideas", "cluster_id", [item_id])
    else:
        idea_ids = [item_id]
    task_ids = await lib.ids("tasks", "idea_id", idea_ids)
    await lib.delete("content", await lib.ids("content", "task_id", task_ids))
    await lib.delete("tasks", task_ids)
    await lib.delete("ideas", idea_ids)
    if kind == "clusters":
        await lib.delete("clusters", [item_id])
