"""Withdrawal loaders: payout accounts and withdrawals, each through the access rules of
services.withdrawal.access; and the `PayoutAccount` and `Withdrawal` node fetchers."""

from __future__ import annotations

import strawberry

from loaders.base import OperationLoader
from loaders.node import register_node
from services.withdrawal import accounts, listing


class PayoutAccountByIdLoader(OperationLoader):
    """Payout accounts the viewer may see on their own; None for the rest."""

    async def batch_load(self, keys: list[int]) -> list:
        found = await accounts.visible_accounts_by_ids(self.session, self.context.viewer, list(keys))
        return [found.get(key) for key in keys]


class PayoutAccountByWithdrawalIdLoader(OperationLoader):
    """The account each withdrawal was requested to, where the viewer may see it."""

    async def batch_load(self, keys: list[int]) -> list:
        found = await accounts.visible_accounts_of_withdrawals(self.session, self.context.viewer, list(keys))
        return [found.get(key) for key in keys]


class WithdrawalByIdLoader(OperationLoader):
    """Withdrawals the viewer may see; None for the rest."""

    async def batch_load(self, keys: list[int]) -> list:
        found = await listing.visible_withdrawals_by_ids(self.session, self.context.viewer, list(keys))
        return [found.get(key) for key in keys]


async def fetch_payout_account_node(info: strawberry.Info, pk: int):
    return await PayoutAccountByIdLoader(info.context).load(pk)


async def fetch_withdrawal_node(info: strawberry.Info, pk: int):
    return await WithdrawalByIdLoader(info.context).load(pk)


register_node("PayoutAccount", fetch_payout_account_node)
register_node("Withdrawal", fetch_withdrawal_node)
