"""Placing, paying, shipping, receiving, cancelling and refunding orders; order lists."""

from __future__ import annotations

from datetime import datetime

import strawberry

from models.order import Channel as ChannelEnum
from resolvers.base import decode_id, in_savepoint, region_id
from schema.base import Connection
from schema.order import (
    Channel,
    Order,
    OrderPayload,
    OrderStatus,
    PayOrderInput,
    PayOrderPayload,
    PlaceOrderInput,
    Refund,
    RefundPayload,
    RefundStatus,
    RequestRefundInput,
    ReviewRefundInput,
    ShipOrderInput,
)
from services.order import lifecycle, listing, payments, placing
from services.order import refunds as refund_service


def _shipping(input: PlaceOrderInput) -> placing.Shipping:
    s = input.shipping
    return placing.Shipping(province_id=region_id(s.province_code, "shipping.provinceCode"),
                            city_id=region_id(s.city_code, "shipping.cityCode"),
                            district_id=region_id(s.district_code, "shipping.districtCode"),
                            address=s.address, recipient=s.recipient, phone=s.phone)


@strawberry.type
class OrderQuery:
    @strawberry.field(description="Your own orders, newest first.")
    async def my_orders(self, info: strawberry.Info, first: int | None = 20, after: str | None = None,
                        status: OrderStatus | None = None) -> Connection[Order]:
        page = await listing.my_orders(info.context.session, info.context.viewer, status=status,
                                       first=first, after=after)
        return Connection.from_page(page)

    @strawberry.field(description="Orders attributed to you (with includeTeam, to anyone in your team as it was "
                                  "when they were paid); buyers' phones are masked.")
    async def distributor_orders(self, info: strawberry.Info, first: int | None = 20, after: str | None = None,
                                 include_team: bool = False, status: OrderStatus | None = None) -> Connection[Order]:
        page = await listing.team_orders(info.context.session, info.context.viewer, include_team=include_team,
                                         status=status, first=first, after=after)
        return Connection.from_page(page)

    @strawberry.field(description="Every order, filtered (MANAGE_ORDERS).")
    async def orders(self, info: strawberry.Info, first: int | None = 20, after: str | None = None,
                     status: OrderStatus | None = None, channel: Channel | None = None,
                     distributor_id: strawberry.ID | None = None, created_from: datetime | None = None,
                     created_to: datetime | None = None) -> Connection[Order]:
        page = await listing.all_orders(
            info.context.session, info.context.viewer, status=status, channel=channel,
            distributor_id=decode_id(distributor_id, "Distributor", "distributorId") if distributor_id else None,
            created_from=created_from, created_to=created_to, first=first, after=after)
        return Connection.from_page(page)

    @strawberry.field(description="Paid orders shipped into a region, for its regional agent (and staff).")
    async def region_orders(self, info: strawberry.Info, region_code: str, first: int | None = 20,
                            after: str | None = None) -> Connection[Order]:
        page = await listing.region_orders(info.context.session, info.context.viewer,
                                           region_id=region_id(region_code), first=first, after=after)
        return Connection.from_page(page)

    @strawberry.field(description="Refund requests: your own, or all of them for MANAGE_ORDERS.")
    async def refunds(self, info: strawberry.Info, first: int | None = 20, after: str | None = None,
                      status: RefundStatus | None = None) -> Connection[Refund]:
        page = await refund_service.refunds_for(info.context.session, info.context.viewer, status=status,
                                         first=first, after=after)
        return Connection.from_page(page)


@strawberry.type
class OrderMutation:
    @strawberry.mutation(description="Place an order: prices from the catalog (the attributing distributor's "
                                     "price inside the band), stock reserved until it is paid or expires.")
    async def place_order(self, info: strawberry.Info, input: PlaceOrderInput) -> OrderPayload:
        async def action(session):
            items = [placing.ItemRequest(sku_id=decode_id(line.sku_id, "Sku", "items"), quantity=line.quantity)
                     for line in input.items]
            return await placing.place_order(
                session, info.context.viewer, channel=ChannelEnum(input.channel.value), items=items,
                shipping=_shipping(input), share_token=input.share_token, idempotency_key=input.idempotency_key)

        order, errors = await in_savepoint(info, action)
        return OrderPayload(order=order, user_errors=errors)

    @strawberry.mutation(description="Pay an order. With the sandbox provider the outcome is chosen here; a real "
                                     "provider answers through the payment callback.")
    async def pay_order(self, info: strawberry.Info, input: PayOrderInput) -> PayOrderPayload:
        async def action(session):
            order_id = decode_id(input.order_id, "Order", "orderId")
            return await payments.sandbox_pay(session, info.context.viewer, info.context.state.payments,
                                              order_id=order_id, outcome=input.sandbox_outcome.value)

        result, errors = await in_savepoint(info, action)
        if result is None:
            return PayOrderPayload(user_errors=errors)
        order, payment = result
        return PayOrderPayload(order=order, payment=payment)

    @strawberry.mutation(description="Mark a paid order shipped (MANAGE_ORDERS).")
    async def ship_order(self, info: strawberry.Info, input: ShipOrderInput) -> OrderPayload:
        order, errors = await in_savepoint(info, lambda s: lifecycle.ship(
            s, info.context.viewer, order_id=decode_id(input.order_id, "Order", "orderId"),
            carrier=input.carrier, tracking_number=input.tracking_number))
        return OrderPayload(order=order, user_errors=errors)

    @strawberry.mutation(description="The buyer confirms receipt: the order is completed.")
    async def confirm_receipt(self, info: strawberry.Info, order_id: strawberry.ID) -> OrderPayload:
        order, errors = await in_savepoint(info, lambda s: lifecycle.confirm_receipt(
            s, info.context.viewer, order_id=decode_id(order_id, "Order", "orderId")))
        return OrderPayload(order=order, user_errors=errors)

    @strawberry.mutation(description="Cancel an unpaid order (the buyer, or MANAGE_ORDERS); stock is released.")
    async def cancel_order(self, info: strawberry.Info, order_id: strawberry.ID, reason: str = "") -> OrderPayload:
        order, errors = await in_savepoint(info, lambda s: lifecycle.cancel(
            s, info.context.viewer, order_id=decode_id(order_id, "Order", "orderId"), reason=reason))
        return OrderPayload(order=order, user_errors=errors)

    @strawberry.mutation(description="Ask for a refund of part or all of an item's paid amount.")
    async def request_refund(self, info: strawberry.Info, input: RequestRefundInput) -> RefundPayload:
        refund, errors = await in_savepoint(info, lambda s: refund_service.request_refund(
            s, info.context.viewer, order_item_id=decode_id(input.order_item_id, "OrderItem", "orderItemId"),
            amount_fen=input.amount, reason=input.reason))
        return RefundPayload(refund=refund, user_errors=errors)

    @strawberry.mutation(description="Approve (the item's commissions shrink to its remaining amount) or reject "
                                     "with a note (MANAGE_ORDERS).")
    async def review_refund(self, info: strawberry.Info, input: ReviewRefundInput) -> RefundPayload:
        refund, errors = await in_savepoint(info, lambda s: refund_service.review_refund(
            s, info.context.viewer, refund_id=decode_id(input.refund_id, "Refund", "refundId"),
            approve=input.approve, note=input.note))
        return RefundPayload(refund=refund, user_errors=errors)
