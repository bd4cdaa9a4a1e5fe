"""Reading the wallet and its ledger."""

from __future__ import annotations

import strawberry

from resolvers.base import decode_id
from schema.wallet import Wallet
from services import ledger as ledger_service


@strawberry.type
class WalletQuery:
    @strawberry.field(description="Your wallet; finance staff (MANAGE_FINANCE) may name a user.")
    async def wallet(self, info: strawberry.Info, user_id: strawberry.ID | None = None) -> Wallet:
        target = decode_id(user_id, "User", "userId") if user_id else None
        return await ledger_service.wallet_of(info.context.session, info.context.viewer, target)
