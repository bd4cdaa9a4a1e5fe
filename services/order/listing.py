"""Order lists, newest first: the buyer's own, a distributor's team's, a region's and staff's."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from auth.permissions import Permission
from auth.viewer import Viewer
from core.pagination import Page, SortKey, paginate
from models.network import RegionLevel
from models.order import Channel, Order, OrderStatus
from services import network as network_service
from services import region as region_service

_NEWEST_FIRST = [SortKey(Order.id, descending=True)]


async def my_orders(session: AsyncSession, viewer: Viewer, *, status: OrderStatus | None, first: int | None,
                    after: str | None) -> Page:
    buyer_id = viewer.require_user()
    stmt = select(Order).where(Order.buyer_id == buyer_id)
    if status is not None:
        stmt = stmt.where(Order.status == status)
    return await paginate(session, stmt, _NEWEST_FIRST, first=first, after=after)


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
    return await paginate(session, stmt, _NEWEST_FIRST, first=first, after=after)


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
    return await paginate(session, stmt, _NEWEST_FIRST, first=first, after=after)


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
    return await paginate(session, stmt, _NEWEST_FIRST, first=first, after=after)
