"""Helpers every resolver module uses."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import ErrorCode, ServiceError
from core.ids import decode_global_id
from schema.base import UserError

T = TypeVar("T")


async def in_savepoint(info: strawberry.Info, action: Callable[[AsyncSession], Awaitable[T]]
                       ) -> tuple[T | None, list[UserError]]:
    """Run one mutation's service call in a savepoint: a ServiceError undoes its writes
    (unless it says to keep them) and comes back as userErrors; other mutations in the same
    request keep theirs."""
    session = info.context.session
    savepoint = await session.begin_nested()
    try:
        result = await action(session)
    except ServiceError as error:
        if error.keep_changes:
            await savepoint.commit()
        else:
            await savepoint.rollback()
        return None, [UserError(field=error.field, code=error.code, message=error.message)]
    await savepoint.commit()
    return result, []


def decode_id(global_id: str, type_name: str, field: str) -> int:
    decoded = decode_global_id(global_id)
    if decoded is None or decoded[0] != type_name:
        raise ServiceError(ErrorCode.INVALID, f"This is not a {type_name} id.", field)
    return decoded[1]


def region_id(code: str | None, field: str = "regionCode") -> int | None:
    """A GB/T 2260 region code ("440106") as the region's id."""
    if code is None:
        return None
    if not code.isdigit() or len(code) != 6:
        raise ServiceError(ErrorCode.INVALID, "A region code has six digits.", field)
    return int(code)


def keyed_loader(fetch):
    """A dataloader factory from `fetch(session, keys) -> {key: value}`; missing keys load None."""
    from strawberry.dataloader import DataLoader

    def factory(context) -> DataLoader:
        async def load(keys: list):
            found = await fetch(context.session, list(keys))
            return [found.get(key) for key in keys]

        return DataLoader(load_fn=load)

    return factory
