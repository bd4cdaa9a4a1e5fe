"""node(id:): fetch any object by global id, through the same access checks as its own field.

Each domain's loaders module registers one fetcher per Node type; every path that turns a
(type, id) pair into an object the viewer sees (the `node` root field, a subscription event's
`subject`) goes through `fetch_node`, so they can never disagree.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import strawberry

_fetchers: dict[str, Callable[[strawberry.Info, int], Awaitable[object | None]]] = {}


def register_node(type_name: str, fetch: Callable[[strawberry.Info, int], Awaitable[object | None]]) -> None:
    _fetchers[type_name] = fetch


def is_node_type(type_name: str) -> bool:
    return type_name in _fetchers


async def fetch_node(info: strawberry.Info, type_name: str, pk: int) -> object | None:
    """The object if the viewer may see it, through its type's own access-checked fetcher."""
    fetch = _fetchers.get(type_name)
    return await fetch(info, pk) if fetch is not None else None
