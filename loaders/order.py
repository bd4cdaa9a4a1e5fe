"""Dataloaders and the node fetcher of orders."""

from __future__ import annotations

import strawberry

from loaders.base import KeyedLoader, OperationLoader
from loaders.node import register_node
from services.order import access, lookup


class OrderByIdLoader(OperationLoader):
    """Orders the viewer may see (services.order.access); None for the rest."""

    async def batch_load(self, keys: list[int]) -> list:
        found = await access.visible_orders(self.session, self.context.viewer, list(keys))
        return [found.get(key) for key in keys]


class OrderItemsByOrderIdLoader(KeyedLoader):
    fetch = staticmethod(lookup.items_of)


async def fetch_order_node(info: strawberry.Info, pk: int):
    return await OrderByIdLoader(info.context).load(pk)


register_node("Order", fetch_order_node)
