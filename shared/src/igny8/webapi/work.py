"""The shape every changing route shares: one use case in one fresh unit of work, committed."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Protocol, Self, TypeVar


class Committable(Protocol):
    """What `committed` needs of a service's unit of work (every one has it)."""

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def commit(self) -> None: ...


U = TypeVar("U", bound=Committable)
T = TypeVar("T")


async def committed(uow: Callable[[], U], use_case: Callable[[U], Awaitable[T]]) -> T:
    """Runs `use_case` in a fresh unit of work from `uow` and commits it (an error rolls it
    back): `await committed(uow, lambda u: put_package(offer, u))`."""
    async with uow() as unit:
        result = await use_case(unit)
        await unit.commit()
    return result
