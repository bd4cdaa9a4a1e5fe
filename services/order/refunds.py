"""Refunds: a buyer asks for part or all of an item's paid amount back; staff approve (the item's
commission shrinks to its remaining amount) or reject with a note."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from auth.permissions import Permission
from auth.viewer import Viewer
from core.errors import ErrorCode, ServiceError
from core.pagination import Page, SortKey, paginate
from models.base import utcnow
from models.order import Order, OrderItem, OrderStatus, Refund, RefundStatus
from services import audit, commission
from services import grade as grade_service
from services.order.events import emit_order_event
from services.order.lookup import order_for_update


async def request_refund(session: AsyncSession, viewer: Viewer, *, order_item_id: int, amount_fen: int,
                         reason: str) -> Refund:
    buyer_id = viewer.require_user()
    item = await session.get(OrderItem, order_item_id)
    order = await order_for_update(session, item.order_id) if item else None
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
        order = await order_for_update(session, refund.order_id)
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


async def refunds_for(session: AsyncSession, viewer: Viewer, *, status: RefundStatus | None, first: int | None,
                      after: str | None) -> Page:
    """Refund requests: the viewer's own, or every one for MANAGE_ORDERS."""
    user_id = viewer.require_user()
    stmt = select(Refund)
    if not viewer.has(Permission.MANAGE_ORDERS):
        stmt = stmt.join(Order, Order.id == Refund.order_id).where(Order.buyer_id == user_id)
    if status is not None:
        stmt = stmt.where(Refund.status == status)
    return await paginate(session, stmt, [SortKey(Refund.id, descending=True)], first=first, after=after)
