"""What the network knows of a customer: their current binding (锁客) to a distributor and
their completed purchase figures."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models.base import utcnow
from models.network import CustomerBinding, CustomerStats


async def active_binding(session: AsyncSession, customer_id: int, now: datetime | None = None
                         ) -> CustomerBinding | None:
    """The customer's binding unless it was released or its protection period is over."""
    now = now or utcnow()
    binding = await session.scalar(select(CustomerBinding).where(CustomerBinding.customer_id == customer_id))
    if binding is None or binding.released_at is not None:
        return None
    if binding.expires_at is not None and binding.expires_at <= now:
        return None
    return binding


async def customer_stats(session: AsyncSession, user_id: int) -> CustomerStats:
    stats = await session.get(CustomerStats, user_id)
    return stats or CustomerStats(user_id=user_id, completed_sales_fen=0, completed_orders=0)
