"""Orders, items, payments and refunds."""

from __future__ import annotations

import enum
from datetime import datetime

import strawberry

from core.ids import encode_global_id
from loaders.account import UserByIdLoader
from loaders.order import OrderByIdLoader, OrderItemsByOrderIdLoader
from models import order as m
from schema.base import Node, UserError
from schema.scalars import Money
from services.order import access

OrderStatus = strawberry.enum(m.OrderStatus, name="OrderStatus")
Channel = strawberry.enum(m.Channel, name="Channel", description="Where an order was placed.")
AttributionSource = strawberry.enum(m.AttributionSource, name="AttributionSource",
                                    description="Why an order belongs to a distributor.")
PaymentStatus = strawberry.enum(m.PaymentStatus, name="PaymentStatus")
RefundStatus = strawberry.enum(m.RefundStatus, name="RefundStatus")


@strawberry.enum(description="What the sandbox payment provider does when asked to pay.")
class SandboxOutcome(enum.Enum):
    SUCCEED = "SUCCEED"
    FAIL = "FAIL"
    CALLBACK_TWICE = "CALLBACK_TWICE"


@strawberry.type
class OrderItem(Node):
    title: str
    quantity: int
    list_price: Money = strawberry.field(resolver=lambda root: root.list_price_fen)
    unit_price: Money = strawberry.field(resolver=lambda root: root.unit_price_fen,
                                         description="The price charged per unit before any distributor discount.")
    discount: Money = strawberry.field(resolver=lambda root: root.discount_fen)
    paid: Money = strawberry.field(resolver=lambda root: root.paid_fen)
    refunded: Money = strawberry.field(resolver=lambda root: root.refunded_fen)
    band_shortfall: Money = strawberry.field(resolver=lambda root: root.band_shortfall_fen,
                                             description="Covered by the discounting distributor's commission.")

    @strawberry.field
    def sku_id(self) -> strawberry.ID:
        return strawberry.ID(encode_global_id("Sku", self.sku_id))

    @classmethod
    def is_type_of(cls, obj, _info) -> bool:
        return isinstance(obj, (cls, m.OrderItem))


@strawberry.type
class Order(Node):
    status: OrderStatus
    channel: Channel
    attribution_source: AttributionSource
    items_total: Money = strawberry.field(resolver=lambda root: root.items_total_fen)
    discount: Money = strawberry.field(resolver=lambda root: root.discount_fen)
    total: Money = strawberry.field(resolver=lambda root: root.total_fen)
    refunded: Money = strawberry.field(resolver=lambda root: root.refunded_fen)
    created_at: datetime
    expires_at: datetime
    paid_at: datetime | None
    shipped_at: datetime | None
    carrier: str | None
    tracking_number: str | None
    completed_at: datetime | None
    cancelled_at: datetime | None
    cancel_reason: str | None
    address: str

    @strawberry.field
    async def items(self, info: strawberry.Info) -> list[OrderItem]:
        return await OrderItemsByOrderIdLoader(info.context).load(self.id)

    @strawberry.field(description="The buyer's phone: masked for distributors, whole for the buyer and staff.")
    async def buyer_phone(self, info: strawberry.Info) -> str | None:
        user = await UserByIdLoader(info.context).load(self.buyer_id)
        if user is None:
            return None
        return access.buyer_phone_as_seen_by(info.context.viewer, self, user.phone)

    @strawberry.field
    def recipient(self, info: strawberry.Info) -> str:
        return access.recipient_as_seen_by(info.context.viewer, self)

    @strawberry.field
    def recipient_phone(self, info: strawberry.Info) -> str:
        return access.recipient_phone_as_seen_by(info.context.viewer, self)

    @strawberry.field
    def attributed_distributor_id(self) -> strawberry.ID | None:
        if self.attributed_distributor_id is None:
            return None
        return strawberry.ID(encode_global_id("Distributor", self.attributed_distributor_id))

    @classmethod
    def is_type_of(cls, obj, _info) -> bool:
        return isinstance(obj, (cls, m.Order))


@strawberry.type
class Payment:
    provider: str
    provider_ref: str
    status: PaymentStatus
    amount: Money = strawberry.field(resolver=lambda root: root.amount_fen)


@strawberry.type
class Refund(Node):
    status: RefundStatus
    reason: str
    review_note: str | None
    created_at: datetime
    reviewed_at: datetime | None
    amount: Money = strawberry.field(resolver=lambda root: root.amount_fen)

    @strawberry.field
    async def order(self, info: strawberry.Info) -> Order | None:
        return await OrderByIdLoader(info.context).load(self.order_id)

    @classmethod
    def is_type_of(cls, obj, _info) -> bool:
        return isinstance(obj, (cls, m.Refund))


@strawberry.input
class OrderLineInput:
    sku_id: strawberry.ID
    quantity: int


@strawberry.input
class ShippingInput:
    recipient: str
    phone: str
    address: str
    province_code: str | None = strawberry.field(default=None, description="Six-digit region codes.")
    city_code: str | None = None
    district_code: str | None = None


@strawberry.input
class PlaceOrderInput:
    channel: Channel
    items: list[OrderLineInput]
    shipping: ShippingInput
    share_token: str | None = strawberry.field(default=None, description="The share link the buyer came through.")
    idempotency_key: str | None = strawberry.field(default=None, description="Placing twice with one key returns the first order.")


@strawberry.input
class PayOrderInput:
    order_id: strawberry.ID
    sandbox_outcome: SandboxOutcome = SandboxOutcome.SUCCEED


@strawberry.input
class ShipOrderInput:
    order_id: strawberry.ID
    carrier: str
    tracking_number: str


@strawberry.input
class RequestRefundInput:
    order_item_id: strawberry.ID
    amount: Money
    reason: str


@strawberry.input
class ReviewRefundInput:
    refund_id: strawberry.ID
    approve: bool
    note: str | None = None


@strawberry.type
class OrderPayload:
    order: Order | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class PayOrderPayload:
    order: Order | None = None
    payment: Payment | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class RefundPayload:
    refund: Refund | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)
