"""Wallet loaders, through the wallet's access rule (services.ledger.can_read_wallet)."""

from __future__ import annotations

from loaders.base import OperationLoader
from services import ledger


class WalletByIdLoader(OperationLoader):
    """Wallets the viewer may read; None for the rest."""

    async def batch_load(self, keys: list[int]) -> list:
        found = await ledger.visible_wallets_by_ids(self.session, self.context.viewer, list(keys))
        return [found.get(key) for key in keys]
