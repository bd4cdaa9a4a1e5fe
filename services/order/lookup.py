"""Orders and their items by id."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import ErrorCode, ServiceError
from models.order import Order, OrderItem


async def order_for_update(session: AsyncSession, order_id: int) -> Order:
    order = await session.scalar(select(Order).where(Order.id == order_id).with_for_update())
    if order is None:
        raise ServiceError(ErrorCode.NOT_FOUND, "No such order.", "orderId")
    return order


async def orders_by_ids(session: AsyncSession, ids: list[int]) -> dict[int, Order]:
    return {o.id: o for o in await session.scalars(select(Order).where(Order.id.in_(ids)))}


async def items_of(session: AsyncSession, order_ids: list[int]) -> dict[int, list[OrderItem]]:
    rows = await session.scalars(select(OrderItem).where(OrderItem.order_id.in_(order_ids)).order_by(OrderItem.id))
    result: dict[int, list[OrderItem]] = {i: [] for i in order_ids}
    for item in rows:
        result[item.order_id].append(item)
    return result
