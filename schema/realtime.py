"""Live updates: the events subscriptions push."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from strawberry.scalars import JSON

from loaders.node import fetch_node
from loaders.wallet import WalletByIdLoader
from schema.base import Node
from schema.wallet import Wallet


@strawberry.interface(description="A change pushed live to a subscription. Pass its `cursor` as "
                                  "`after:` when subscribing again to replay what was missed, in order.")
class LiveEvent:
    cursor: str = strawberry.field(description="Resume after this event with `after:`.")
    type: str = strawberry.field(description='The event type, e.g. "order.updated".')
    subject_type: str = strawberry.field(description='The changed object\'s type, e.g. "Order".')
    subject_id: strawberry.ID = strawberry.field(description="The changed object's global id.")
    occurred_at: datetime = strawberry.field(description="When the change was committed.")
    data: JSON | None = strawberry.field(description="What changed (amounts in integer fen).")
    # The raw realtime.outbox.LiveEvent, for fields that load the subject (dataloaders).
    event: strawberry.Private[Any] = None

    @strawberry.field(description="The changed object as it is now, if you may see it (the same access "
                                  "checks as node(id:)); e.g. `subject { ... on Order { status total } }`.")
    async def subject(self, info: strawberry.Info) -> Node | None:
        return await fetch_node(info, self.event.subject_type, self.event.subject_id)


@strawberry.type(description="An order of yours changed (as buyer, or as its attributed distributor "
                             "or their upline).")
class OrderEvent(LiveEvent):
    pass


@strawberry.type(description="A commission of yours changed.")
class CommissionEvent(LiveEvent):
    pass


@strawberry.type(description="Your wallet's balances changed.")
class WalletEvent(LiveEvent):
    @strawberry.field(description="The wallet as it is now (yours; any for MANAGE_FINANCE).")
    async def wallet(self, info: strawberry.Info) -> Wallet | None:
        return await WalletByIdLoader(info.context).load(self.event.subject_id)


@strawberry.type(description="A withdrawal of yours changed.")
class WithdrawalEvent(LiveEvent):
    pass


@strawberry.type(description="A distributor application changed (submitted, approved, rejected).")
class ApplicationEvent(LiveEvent):
    pass


# One type per event type (realtime.outbox.EVENT_TYPES); a domain adding an event type adds its
# class here and a subscription field returning it.
EVENT_CLASSES: dict[str, type[LiveEvent]] = {
    "order.updated": OrderEvent,
    "commission.updated": CommissionEvent,
    "wallet.updated": WalletEvent,
    "withdrawal.updated": WithdrawalEvent,
    "application.updated": ApplicationEvent,
}
