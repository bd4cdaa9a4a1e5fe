"""Account loaders: users by id, and the `User` node fetcher."""

from __future__ import annotations

import strawberry

from loaders.base import OperationLoader
from loaders.node import register_node
from services import account as account_service


class UserByIdLoader(OperationLoader):
    """Users by id; a missing id loads None."""

    async def batch_load(self, keys: list[int]) -> list:
        # Looked up through the module at call time, so the service function can be replaced
        # (the transport tests make it fail to check how unexpected errors are masked).
        found = await account_service.users_by_ids(self.session, list(keys))
        return [found.get(key) for key in keys]


async def fetch_user_node(info: strawberry.Info, pk: int):
    if not account_service.can_view_user(info.context.viewer, pk):
        return None
    return await UserByIdLoader(info.context).load(pk)


register_node("User", fetch_user_node)
