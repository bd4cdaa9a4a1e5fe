"""The `node(id:)` root field."""

from __future__ import annotations

import strawberry

from core.ids import decode_global_id
from loaders.node import fetch_node, is_node_type, register_node
from schema.base import Node


@strawberry.type
class NodeQuery:
    @strawberry.field(description="Any object by its global id; null when it does not exist or is not yours to see.")
    async def node(self, info: strawberry.Info, id: strawberry.ID) -> Node | None:
        decoded = decode_global_id(id)
        if decoded is None or not is_node_type(decoded[0]):
            return None
        return await fetch_node(info, *decoded)
