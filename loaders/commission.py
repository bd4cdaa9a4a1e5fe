"""Dataloaders and the node fetcher of commission records."""

from __future__ import annotations

import strawberry

from loaders.base import OperationLoader
from loaders.node import register_node
from services import commission as commission_service


class CommissionRecordByIdLoader(OperationLoader):
    """Commission records the viewer may see (their own; everyone's for MANAGE_FINANCE)."""

    async def batch_load(self, keys: list[int]) -> list:
        found = await commission_service.visible_records(self.session, self.context.viewer, list(keys))
        return [found.get(key) for key in keys]


async def fetch_commission_record_node(info: strawberry.Info, pk: int):
    return await CommissionRecordByIdLoader(info.context).load(pk)


register_node("CommissionRecord", fetch_commission_record_node)
