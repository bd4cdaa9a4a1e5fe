"""The wallet and its ledger."""

from __future__ import annotations

from datetime import datetime

import strawberry

from core.ids import encode_global_id
from models import wallet as m
from schema.base import Connection, Node
from schema.scalars import Money
from services import ledger as ledger_service

LedgerKind = strawberry.enum(m.LedgerKind, name="LedgerKind", description="What a ledger entry records.")


@strawberry.type(description="One immutable ledger entry; its changes add up to the wallet's balances.")
class LedgerEntry(Node):
    kind: LedgerKind
    memo: str
    created_at: datetime
    frozen_change: Money = strawberry.field(resolver=lambda root: root.frozen_delta)
    available_change: Money = strawberry.field(resolver=lambda root: root.available_delta)
    withdrawing_change: Money = strawberry.field(resolver=lambda root: root.withdrawing_delta)
    withdrawn_change: Money = strawberry.field(resolver=lambda root: root.withdrawn_delta)
    debt_change: Money = strawberry.field(resolver=lambda root: root.debt_delta)

    @strawberry.field(description="The object the entry is about (a commission record, a withdrawal…).")
    def subject_id(self) -> strawberry.ID | None:
        if self.subject_type is None or self.subject_id is None:
            return None
        return strawberry.ID(encode_global_id(self.subject_type, self.subject_id))

    @classmethod
    def is_type_of(cls, obj, _info) -> bool:
        return isinstance(obj, (cls, m.LedgerEntry))


@strawberry.type(description="Commission money: frozen until the after-sale window closes, then available to "
                             "withdraw. Debt is settled commission clawed back by a refund; it blocks withdrawals "
                             "and is repaid from future commission first.")
class Wallet:
    frozen: Money = strawberry.field(resolver=lambda root: root.frozen_fen)
    available: Money = strawberry.field(resolver=lambda root: root.available_fen)
    withdrawing: Money = strawberry.field(resolver=lambda root: root.withdrawing_fen)
    withdrawn: Money = strawberry.field(resolver=lambda root: root.withdrawn_fen)
    debt: Money = strawberry.field(resolver=lambda root: root.debt_fen)
    total_earned: Money = strawberry.field(resolver=lambda root: root.credited_fen - root.reversed_fen,
                                           description="Commission credited minus reversed.")

    @strawberry.field
    async def ledger(self, info: strawberry.Info, first: int | None = 20, after: str | None = None,
                     kind: LedgerKind | None = None) -> Connection[LedgerEntry]:
        page = await ledger_service.entries(info.context.session, info.context.viewer, self, kind=kind,
                                            first=first, after=after)
        return Connection.from_page(page)
