"""node(id:): fetch any object by global id, through the same access checks as its own field."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import strawberry

from core.ids import decode_global_id
from schema.base import Node

_fetchers: dict[str, Callable[[strawberry.Info, int], Awaitable[object | None]]] = {}


def register_node(type_name: str, fetch: Callable[[strawberry.Info, int], Awaitable[object | None]]) -> None:
    _fetchers[type_name] = fetch


async def fetch_node(info: strawberry.Info, type_name: str, pk: int) -> object | None:
    """The object if the viewer may see it, through its type's own access-checked fetcher."""
    fetch = _fetchers.get(type_name)
    return await fetch(info, pk) if fetch is not None else None


@strawberry.type
class NodeQuery:
    @strawberry.field(description="Any object by its global id; null when it does not exist or is not yours to see.")
    async def node(self, info: strawberry.Info, id: strawberry.ID) -> Node | None:
        decoded = decode_global_id(id)
        if decoded is None or decoded[0] not in _fetchers:
            return None
        return await fetch_node(info, *decoded)
