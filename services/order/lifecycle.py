"""An order after payment or instead of it: shipping, completion (by the buyer or after the
configured days), cancellation and expiry of unpaid orders with their stock released."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from auth.permissions import Permission
from auth.viewer import Viewer
from core.errors import ErrorCode, ServiceError
from models.base import utcnow
from models.order import Order, OrderStatus
from services import audit, commission
from services import grade as grade_service
from services.catalog.stock import release_stock
from services.order.events import emit_order_event
from services.order.lookup import items_of, order_for_update


async def ship(session: AsyncSession, viewer: Viewer, *, order_id: int, carrier: str, tracking_number: str) -> Order:
    actor = viewer.require(Permission.MANAGE_ORDERS)
    if not carrier.strip() or not tracking_number.strip():
        raise ServiceError(ErrorCode.REQUIRED, "Give the carrier and the tracking number.", "trackingNumber")
    order = await order_for_update(session, order_id)
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
    order = await order_for_update(session, order_id)
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
    await release_stock(session, [(i.sku_id, i.quantity) for i in items], order_id=order.id,
                        reason=f"order {order.id} {reason}")
    await emit_order_event(session, order, "cancelled")


async def cancel(session: AsyncSession, viewer: Viewer, *, order_id: int, reason: str) -> Order:
    user_id = viewer.require_user()
    order = await order_for_update(session, order_id)
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
