"""The live event every change of an order emits, in the same transaction as the change."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models.network import Distributor
from models.order import Order
from realtime import outbox
from services import network as network_service


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
