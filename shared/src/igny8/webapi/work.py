"""The shape every changing route shares: one use case in one fresh unit of work, committed."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from igny8.uow import Transaction

U = TypeVar("U", bound=Transaction)
T = TypeVar("T")


async def committed(uow: Callable[[], U], use_case: Callable[[U], Awaitable[T]]) -> T:
    """Runs `use_case` in a fresh unit of work from `uow` and commits it (an error rolls it
    back): `await committed(uow, lambda u: put_package(offer, u))`."""
    async with uow() as unit:
        result = await use_case(unit)
        await unit.commit()
    return result
