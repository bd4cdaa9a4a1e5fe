"""Orders: placement with attribution and stock, payment and its callback, shipping,
completion, cancellation, expiry and refunds."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from auth.permissions import Permission
from auth.viewer import Viewer
from core.errors import ErrorCode, ServiceError
from core.pagination import Page, SortKey, paginate
from models.base import utcnow
from models.catalog import Product, Sku
from models.network import Distributor, DistributorStatus, Grade, RegionLevel, ShareLink
from models.order import (
    AttributionSource,
    Channel,
    Order,
    OrderItem,
    OrderStatus,
    Payment,
    PaymentStatus,
    Refund,
    RefundStatus,
)
from services import audit, commission, grade as grade_service
from services import catalog as catalog_service
from services import network as network_service
from services import region as region_service
from services.payment import InvalidCallback, PaymentProvider, SandboxPaymentProvider
from realtime import outbox

MAX_ITEMS = 50
MAX_QUANTITY = 999


@dataclass(frozen=True)
class ItemRequest:
    sku_id: int
    quantity: int


@dataclass(frozen=True)
class Shipping:
    province_id: int | None
    city_id: int | None
    district_id: int | None
    address: str
    recipient: str
    phone: str


async def _attribution(session: AsyncSession, buyer_id: int, own: Distributor | None, share_token: str | None
                       ) -> tuple[Distributor | None, AttributionSource, int | None]:
    """Who an order is attributed to: an explicit share token, else self-purchase (an active
    distributor buying, when the program lets that earn), else the buyer's binding."""
    program = await network_service.get_program(session)
    if share_token:
        link = await session.scalar(select(ShareLink).where(ShareLink.token == share_token))
        if link is None:
            raise ServiceError(ErrorCode.NOT_FOUND, "This share link does not exist.", "shareToken")
        sharer = await session.get(Distributor, link.distributor_id)
        if sharer is not None and sharer.status == DistributorStatus.ACTIVE and sharer.user_id != buyer_id:
            return sharer, AttributionSource.SHARE_TOKEN, link.id
    if own is not None and own.status == DistributorStatus.ACTIVE and program.self_purchase_commission:
        return own, AttributionSource.SELF_PURCHASE, None
    if own is not None and own.parent_id is not None:
        upline = await session.get(Distributor, own.parent_id)
        return upline, AttributionSource.BINDING, None
    binding = await network_service.active_binding(session, buyer_id)
    if binding is not None:
        return await session.get(Distributor, binding.distributor_id), AttributionSource.BINDING, None
    return None, AttributionSource.NONE, None


async def place_order(session: AsyncSession, viewer: Viewer, *, channel: Channel, items: list[ItemRequest],
                      shipping: Shipping, share_token: str | None, idempotency_key: str | None) -> Order:
    buyer_id = viewer.require_user()
    if idempotency_key:
        existing = await session.scalar(select(Order).where(Order.buyer_id == buyer_id,
                                                            Order.idempotency_key == idempotency_key))
        if existing is not None:
            return existing
    if not items:
        raise ServiceError(ErrorCode.REQUIRED, "Add at least one item.", "items")
    if len(items) > MAX_ITEMS:
        raise ServiceError(ErrorCode.INVALID, f"At most {MAX_ITEMS} lines per order.", "items")
    quantities: dict[int, int] = {}
    for item in items:
        if not 1 <= item.quantity <= MAX_QUANTITY:
            raise ServiceError(ErrorCode.INVALID, f"Quantity must be between 1 and {MAX_QUANTITY}.", "items")
        quantities[item.sku_id] = quantities.get(item.sku_id, 0) + item.quantity
    rows = (await session.execute(select(Sku, Product).join(Product, Product.id == Sku.product_id)
                                  .where(Sku.id.in_(quantities)))).all()
    found = {sku.id: (sku, product) for sku, product in rows}
    for sku_id in quantities:
        if sku_id not in found or not found[sku_id][1].on_shelf:
            raise ServiceError(ErrorCode.NOT_FOUND, f"SKU {sku_id} is not for sale.", "items")
    if not shipping.address.strip() or not shipping.recipient.strip():
        raise ServiceError(ErrorCode.REQUIRED, "Give the recipient and the address.", "shipping")

    own = await network_service.distributor_for_user(session, buyer_id)
    distributor, source, share_link_id = await _attribution(session, buyer_id, own, share_token)
    prices = await catalog_service.effective_prices(session, list(quantities),
                                                    distributor.id if distributor else None)
    floors = await catalog_service.band_floor(session, list(quantities))
    discount_bps = 0
    if own is not None and own.status == DistributorStatus.ACTIVE and own.grade_id:
        grade = await session.get(Grade, own.grade_id)
        discount_bps = grade.discount_bps if grade else 0

    settings = await commission.get_settings(session)
    now = utcnow()
    order = Order(buyer_id=buyer_id, idempotency_key=idempotency_key, channel=channel,
                  status=OrderStatus.PENDING_PAYMENT, attribution_source=source,
                  attributed_distributor_id=distributor.id if distributor else None, share_link_id=share_link_id,
                  province_id=shipping.province_id, city_id=shipping.city_id, district_id=shipping.district_id,
                  address=shipping.address.strip()[:200], recipient=shipping.recipient.strip()[:40],
                  recipient_phone=shipping.phone.strip()[:20], items_total_fen=0, discount_fen=0, total_fen=0,
                  expires_at=now + timedelta(minutes=settings.unpaid_expiry_minutes))
    session.add(order)
    await session.flush()
    lines = []
    for sku_id, quantity in quantities.items():
        sku, product = found[sku_id]
        unit = prices[sku_id]
        line_total = unit * quantity
        discount = line_total * discount_bps // 10_000
        paid = line_total - discount
        floor = floors.get(sku_id)
        shortfall = max(0, floor * quantity - paid) if floor is not None and discount else 0
        lines.append(OrderItem(order_id=order.id, product_id=product.id, sku_id=sku_id, title=product.title[:200],
                               quantity=quantity, list_price_fen=sku.price_fen, unit_price_fen=unit,
                               discount_fen=discount, paid_fen=paid, band_floor_fen=floor,
                               band_shortfall_fen=shortfall))
    session.add_all(lines)
    order.items_total_fen = sum(line.unit_price_fen * line.quantity for line in lines)
    order.discount_fen = sum(line.discount_fen for line in lines)
    order.total_fen = sum(line.paid_fen for line in lines)
    await catalog_service.reserve_stock(session, sorted(quantities.items()), order_id=order.id,
                                        reason=f"order {order.id} placed")
    await session.flush()
    await emit_order_event(session, order, "placed")
    return order


async def _order_audience(session: AsyncSession, order: Order) -> list[int]:
    """The buyer, and every distributor of the team the order was attributed in."""
    audience = [order.buyer_id]
    if order.attributed_path:
        ids = network_service.path_ids(order.attributed_path)
    elif order.attributed_distributor_id is not None:
        ids = [order.attributed_distributor_id]
    else:
        ids = []
    if ids:
        audience += list((await session.scalars(select(Distributor.user_id).where(Distributor.id.in_(ids)))).all())
    return audience


async def emit_order_event(session: AsyncSession, order: Order, change: str) -> None:
    await outbox.emit(session, event_type=outbox.ORDER_UPDATED, subject_type="Order", subject_id=order.id,
                      audience_user_ids=await _order_audience(session, order),
                      payload={"change": change, "status": order.status.value, "totalFen": order.total_fen,
                               "refundedFen": order.refunded_fen})


async def _order_for_update(session: AsyncSession, order_id: int) -> Order:
    order = await session.scalar(select(Order).where(Order.id == order_id).with_for_update())
    if order is None:
        raise ServiceError(ErrorCode.NOT_FOUND, "No such order.", "orderId")
    return order


async def items_of(session: AsyncSession, order_ids: list[int]) -> dict[int, list[OrderItem]]:
    rows = await session.scalars(select(OrderItem).where(OrderItem.order_id.in_(order_ids)).order_by(OrderItem.id))
    result: dict[int, list[OrderItem]] = {i: [] for i in order_ids}
    for item in rows:
        result[item.order_id].append(item)
    return result


async def start_payment(session: AsyncSession, viewer: Viewer, provider: PaymentProvider, *, order_id: int
                        ) -> tuple[Order, Payment]:
    buyer_id = viewer.require_user()
    order = await _order_for_update(session, order_id)
    if order.buyer_id != buyer_id:
        raise ServiceError(ErrorCode.NOT_FOUND, "No such order.", "orderId")
    if order.status != OrderStatus.PENDING_PAYMENT:
        raise ServiceError(ErrorCode.INVALID_STATE, f"This order is {order.status.value}, not awaiting payment.",
                           "orderId")
    if order.expires_at <= utcnow():
        raise ServiceError(ErrorCode.ORDER_EXPIRED, "This order has expired; place it again.", "orderId")
    payment = Payment(order_id=order.id, provider=provider.name, provider_ref=provider.new_reference(),
                      amount_fen=order.total_fen, status=PaymentStatus.PENDING)
    session.add(payment)
    await session.flush()
    return order, payment


async def handle_payment_callback(session: AsyncSession, provider: PaymentProvider, body: bytes,
                                  signature: str | None) -> Payment:
    """The provider's notification. Idempotent: a replayed or concurrent callback for a payment
    already settled changes nothing (the payment row is locked, then its state checked)."""
    try:
        callback = provider.parse_callback(body, signature)
    except InvalidCallback as exc:
        raise ServiceError(ErrorCode.INVALID_SIGNATURE, f"Callback refused: {exc}.") from exc
    payment = await session.scalar(select(Payment).where(Payment.provider_ref == callback.provider_ref)
                                   .with_for_update())
    if payment is None:
        raise ServiceError(ErrorCode.NOT_FOUND, "Unknown payment reference.")
    payment.callback_count += 1
    if payment.status != PaymentStatus.PENDING:
        await session.flush()
        return payment
    if callback.amount_fen != payment.amount_fen:
        raise ServiceError(ErrorCode.AMOUNT_MISMATCH, "The paid amount does not match the order.")
    now = utcnow()
    payment.completed_at = now
    if not callback.succeeded:
        payment.status = PaymentStatus.FAILED
        await session.flush()
        return payment
    payment.status = PaymentStatus.SUCCEEDED
    order = await _order_for_update(session, payment.order_id)
    if order.status != OrderStatus.PENDING_PAYMENT:
        # Paid after expiry or cancellation: the money must go back; staff see this in the audit log.
        await audit.record(session, actor_id=None, action="payment.after_close", subject_type="Order",
                           subject_id=order.id, details={"payment": payment.provider_ref, "status": order.status.value})
        await session.flush()
        return payment
    order.status = OrderStatus.PAID
    order.paid_at = now
    if order.attributed_distributor_id is not None:
        attributed = await session.get(Distributor, order.attributed_distributor_id)
        order.attributed_path = attributed.path if attributed else None
    items = (await items_of(session, [order.id]))[order.id]
    await commission.create_for_order(session, order, items)
    await emit_order_event(session, order, "paid")
    return payment


async def sandbox_pay(session: AsyncSession, viewer: Viewer, provider: SandboxPaymentProvider, *, order_id: int,
                      outcome: str) -> tuple[Order, Payment]:
    """Development payment: the sandbox "bank" answers at once (SUCCEED, FAIL or CALLBACK_TWICE)."""
    order, payment = await start_payment(session, viewer, provider, order_id=order_id)
    body, signature = provider.callback_body(payment.provider_ref, payment.amount_fen, outcome != "FAIL")
    for _ in range(2 if outcome == "CALLBACK_TWICE" else 1):
        await handle_payment_callback(session, provider, body, signature)
    await session.refresh(order)
    return order, payment


async def ship(session: AsyncSession, viewer: Viewer, *, order_id: int, carrier: str, tracking_number: str) -> Order:
    actor = viewer.require(Permission.MANAGE_ORDERS)
    if not carrier.strip() or not tracking_number.strip():
        raise ServiceError(ErrorCode.REQUIRED, "Give the carrier and the tracking number.", "trackingNumber")
    order = await _order_for_update(session, order_id)
    if order.status != OrderStatus.PAID:
        raise ServiceError(ErrorCode.INVALID_STATE, f"Only paid orders ship; this one is {order.status.value}.",
                           "orderId")
    order.status = OrderStatus.SHIPPED
    order.shipped_at = utcnow()
    order.carrier = carrier.strip()[:40]
    order.tracking_number = tracking_number.strip()[:64]
    await audit.record(session, actor_id=actor, action="order.ship", subject_type="Order", subject_id=order.id,
                       details={"carrier": order.carrier, "tracking": order.tracking_number})
    await emit_order_event(session, order, "shipped")
    return order


async def _complete(session: AsyncSession, order: Order, now: datetime) -> None:
    order.status = OrderStatus.COMPLETED
    order.completed_at = now
    items = (await items_of(session, [order.id]))[order.id]
    await grade_service.record_completed_order(
        session, buyer_id=order.buyer_id, distributor_id=order.attributed_distributor_id,
        amount_fen=order.total_fen - order.refunded_fen, product_ids=sorted({i.product_id for i in items}))
    await emit_order_event(session, order, "completed")


async def confirm_receipt(session: AsyncSession, viewer: Viewer, *, order_id: int) -> Order:
    buyer_id = viewer.require_user()
    order = await _order_for_update(session, order_id)
    if order.buyer_id != buyer_id:
        raise ServiceError(ErrorCode.NOT_FOUND, "No such order.", "orderId")
    if order.status != OrderStatus.SHIPPED:
        raise ServiceError(ErrorCode.INVALID_STATE, f"Only shipped orders can be received; this one is "
                                                    f"{order.status.value}.", "orderId")
    await _complete(session, order, utcnow())
    return order


async def complete_shipped(session: AsyncSession, now: datetime | None = None, batch_size: int = 500) -> int:
    """Job: complete orders shipped more than the configured number of days ago."""
    now = now or utcnow()
    settings = await commission.get_settings(session)
    cutoff = now - timedelta(days=settings.auto_complete_days)
    orders = list((await session.scalars(
        select(Order).where(Order.status == OrderStatus.SHIPPED, Order.shipped_at <= cutoff)
        .order_by(Order.id).limit(batch_size).with_for_update(skip_locked=True))).all())
    for order in orders:
        await _complete(session, order, now)
    await session.flush()
    return len(orders)


async def _cancel(session: AsyncSession, order: Order, reason: str) -> None:
    order.status = OrderStatus.CANCELLED
    order.cancelled_at = utcnow()
    order.cancel_reason = reason[:200]
    items = (await items_of(session, [order.id]))[order.id]
    await catalog_service.release_stock(session, [(i.sku_id, i.quantity) for i in items], order_id=order.id,
                                        reason=f"order {order.id} {reason}")
    await emit_order_event(session, order, "cancelled")


async def cancel(session: AsyncSession, viewer: Viewer, *, order_id: int, reason: str) -> Order:
    user_id = viewer.require_user()
    order = await _order_for_update(session, order_id)
    is_staff = viewer.has(Permission.MANAGE_ORDERS)
    if order.buyer_id != user_id and not is_staff:
        raise ServiceError(ErrorCode.NOT_FOUND, "No such order.", "orderId")
    if order.status != OrderStatus.PENDING_PAYMENT:
        raise ServiceError(ErrorCode.INVALID_STATE, "Only unpaid orders can be cancelled; ask for a refund instead.",
                           "orderId")
    await _cancel(session, order, reason.strip() or "cancelled")
    if is_staff and order.buyer_id != user_id:
        await audit.record(session, actor_id=user_id, action="order.cancel", subject_type="Order",
                           subject_id=order.id, reason=reason)
    return order


async def expire_unpaid(session: AsyncSession, now: datetime | None = None, batch_size: int = 500) -> int:
    """Job: cancel unpaid orders past their expiry and release their stock."""
    now = now or utcnow()
    orders = list((await session.scalars(
        select(Order).where(Order.status == OrderStatus.PENDING_PAYMENT, Order.expires_at <= now)
        .order_by(Order.id).limit(batch_size).with_for_update(skip_locked=True))).all())
    for order in orders:
        await _cancel(session, order, "expired")
    await session.flush()
    return len(orders)


async def request_refund(session: AsyncSession, viewer: Viewer, *, order_item_id: int, amount_fen: int,
                         reason: str) -> Refund:
    buyer_id = viewer.require_user()
    item = await session.get(OrderItem, order_item_id)
    order = await _order_for_update(session, item.order_id) if item else None
    if item is None or order.buyer_id != buyer_id:
        raise ServiceError(ErrorCode.NOT_FOUND, "No such order item.", "orderItemId")
    if order.status not in (OrderStatus.PAID, OrderStatus.SHIPPED, OrderStatus.COMPLETED):
        raise ServiceError(ErrorCode.INVALID_STATE, "Only paid orders can be refunded.", "orderItemId")
    if not reason.strip():
        raise ServiceError(ErrorCode.REQUIRED, "Say why you want a refund.", "reason")
    pending = sum((await session.scalars(select(Refund.amount_fen).where(
        Refund.order_item_id == item.id, Refund.status == RefundStatus.REQUESTED))).all())
    refundable = item.paid_fen - item.refunded_fen - pending
    if amount_fen <= 0 or amount_fen > refundable:
        raise ServiceError(ErrorCode.INVALID_AMOUNT,
                           f"The refund must be more than 0 and at most {refundable} fen.", "amount")
    refund = Refund(order_id=order.id, order_item_id=item.id, amount_fen=amount_fen, reason=reason.strip(),
                    status=RefundStatus.REQUESTED)
    session.add(refund)
    await session.flush()
    return refund


async def review_refund(session: AsyncSession, viewer: Viewer, *, refund_id: int, approve: bool,
                        note: str | None) -> Refund:
    actor = viewer.require(Permission.MANAGE_ORDERS)
    refund = await session.scalar(select(Refund).where(Refund.id == refund_id).with_for_update())
    if refund is None:
        raise ServiceError(ErrorCode.NOT_FOUND, "No such refund.", "refundId")
    if refund.status != RefundStatus.REQUESTED:
        raise ServiceError(ErrorCode.INVALID_STATE, f"This refund is already {refund.status.value}.", "refundId")
    if not approve and not (note or "").strip():
        raise ServiceError(ErrorCode.REQUIRED, "Say why the refund is refused.", "note")
    refund.reviewed_by = actor
    refund.reviewed_at = utcnow()
    refund.review_note = (note or "").strip() or None
    if not approve:
        refund.status = RefundStatus.REJECTED
    else:
        order = await _order_for_update(session, refund.order_id)
        item = await session.scalar(select(OrderItem).where(OrderItem.id == refund.order_item_id).with_for_update())
        refund.status = RefundStatus.APPROVED
        item.refunded_fen += refund.amount_fen
        order.refunded_fen += refund.amount_fen
        await session.flush()
        await commission.recompute_item(session, item, refund.id)
        if order.status == OrderStatus.COMPLETED:
            await grade_service.record_refund(session, buyer_id=order.buyer_id,
                                              distributor_id=order.attributed_distributor_id,
                                              amount_fen=refund.amount_fen)
        await emit_order_event(session, order, "refunded")
    await audit.record(session, actor_id=actor, action="refund.approve" if approve else "refund.reject",
                       subject_type="Refund", subject_id=refund.id, reason=refund.review_note,
                       details={"amount_fen": refund.amount_fen, "order_id": refund.order_id})
    await session.flush()
    return refund


async def visible_order(session: AsyncSession, viewer: Viewer, order_id: int) -> Order | None:
    """The order if the viewer may see it: the buyer, the distributors of the team it was
    attributed in (as the tree was when it was paid), and staff with MANAGE_ORDERS."""
    if viewer.user_id is None:
        return None
    order = await session.get(Order, order_id)
    if order is None:
        return None
    if order.buyer_id == viewer.user_id or viewer.has(Permission.MANAGE_ORDERS):
        return order
    own = await network_service.distributor_for_user(session, viewer.user_id)
    if own is not None and own.path and _in_team(order, own):
        return order
    return None


def _in_team(order: Order, distributor: Distributor) -> bool:
    if order.attributed_distributor_id == distributor.id:
        return True
    return bool(order.attributed_path and distributor.path and order.attributed_path.startswith(distributor.path))


async def my_orders(session: AsyncSession, viewer: Viewer, *, status: OrderStatus | None, first: int | None,
                    after: str | None) -> Page:
    buyer_id = viewer.require_user()
    stmt = select(Order).where(Order.buyer_id == buyer_id)
    if status is not None:
        stmt = stmt.where(Order.status == status)
    return await paginate(session, stmt, [SortKey(Order.id, descending=True)], first=first, after=after)


async def team_orders(session: AsyncSession, viewer: Viewer, *, include_team: bool, status: OrderStatus | None,
                      first: int | None, after: str | None) -> Page:
    """Orders attributed to the viewer (and, with include_team, to anyone in their team)."""
    own = await network_service.require_own_distributor(session, viewer)
    stmt = select(Order)
    if include_team and own.path:
        # attributed_path is the attributing distributor's path when paid: the team as it was then.
        stmt = stmt.where(or_(Order.attributed_distributor_id == own.id, Order.attributed_path.like(own.path + "%")))
    else:
        stmt = stmt.where(Order.attributed_distributor_id == own.id)
    if status is not None:
        stmt = stmt.where(Order.status == status)
    return await paginate(session, stmt, [SortKey(Order.id, descending=True)], first=first, after=after)


async def all_orders(session: AsyncSession, viewer: Viewer, *, status: OrderStatus | None, channel: Channel | None,
                     distributor_id: int | None, created_from: datetime | None, created_to: datetime | None,
                     first: int | None, after: str | None) -> Page:
    viewer.require(Permission.MANAGE_ORDERS)
    stmt = select(Order)
    if status is not None:
        stmt = stmt.where(Order.status == status)
    if channel is not None:
        stmt = stmt.where(Order.channel == channel)
    if distributor_id is not None:
        stmt = stmt.where(Order.attributed_distributor_id == distributor_id)
    if created_from is not None:
        stmt = stmt.where(Order.created_at >= created_from)
    if created_to is not None:
        stmt = stmt.where(Order.created_at < created_to)
    return await paginate(session, stmt, [SortKey(Order.id, descending=True)], first=first, after=after)


async def region_orders(session: AsyncSession, viewer: Viewer, *, region_id: int, first: int | None,
                        after: str | None) -> Page:
    """Orders shipped into a region (its province, city or district), for its regional agent and
    for staff with MANAGE_ORDERS or MANAGE_DISTRIBUTORS."""
    region = await region_service.get_region(session, region_id, "regionCode")
    if not viewer.has(Permission.MANAGE_ORDERS):
        await region_service.require_region_access(session, viewer, region)
    column = {RegionLevel.PROVINCE: Order.province_id, RegionLevel.CITY: Order.city_id,
              RegionLevel.DISTRICT: Order.district_id}[region.level]
    stmt = select(Order).where(column == region.id, Order.status != OrderStatus.PENDING_PAYMENT,
                               Order.status != OrderStatus.CANCELLED)
    return await paginate(session, stmt, [SortKey(Order.id, descending=True)], first=first, after=after)


async def refunds_for(session: AsyncSession, viewer: Viewer, *, status: RefundStatus | None, first: int | None,
                      after: str | None) -> Page:
    user_id = viewer.require_user()
    stmt = select(Refund)
    if not viewer.has(Permission.MANAGE_ORDERS):
        stmt = stmt.join(Order, Order.id == Refund.order_id).where(Order.buyer_id == user_id)
    if status is not None:
        stmt = stmt.where(Refund.status == status)
    return await paginate(session, stmt, [SortKey(Refund.id, descending=True)], first=first, after=after)
