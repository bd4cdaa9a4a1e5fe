"""Reading a distributor's team: who may ask, sizes, per-depth counts and members."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from auth.viewer import Viewer
from core.errors import ErrorCode, PermissionDenied, ServiceError
from core.pagination import Page, SortKey, paginate
from models.network import Distributor
from services.network.access import can_see_distributor, is_network_staff
from services.network.tree import (
    column_in_subtree_of,
    distributor_for_user,
    get_distributor,
    in_subtree,
    require_own_distributor,
)


async def team_root(session: AsyncSession, viewer: Viewer, distributor_id: int | None) -> Distributor:
    """The distributor whose team the viewer asks about, after the access check."""
    user_id = viewer.require_user()
    if distributor_id is None:
        return await require_own_distributor(session, viewer)
    target = await get_distributor(session, distributor_id)
    own = None if is_network_staff(viewer) else await distributor_for_user(session, user_id)
    if not can_see_distributor(viewer, own, target):
        raise PermissionDenied("You can only see your own team.")
    if target.path is None:
        raise ServiceError(ErrorCode.NOT_A_DISTRIBUTOR, "This distributor has not joined the network yet.")
    return target


@dataclass
class DepthCount:
    depth: int
    count: int


async def depth_counts(session: AsyncSession, root: Distributor, max_depth: int | None = None) -> list[DepthCount]:
    """Members per depth below `root` (1 = direct members): one GROUP BY over the path range."""
    relative = Distributor.depth - root.depth
    stmt = (select(relative.label("d"), func.count())
            .where(in_subtree(Distributor.path, root.path, include_self=False))
            .group_by(relative).order_by(relative))
    if max_depth is not None:
        stmt = stmt.where(Distributor.depth <= root.depth + max_depth)
    return [DepthCount(depth=int(d), count=int(c)) for d, c in (await session.execute(stmt)).all()]


async def new_member_count(session: AsyncSession, root: Distributor, since: datetime | None,
                           until: datetime | None) -> int:
    stmt = select(func.count()).where(in_subtree(Distributor.path, root.path, include_self=False))
    if since is not None:
        stmt = stmt.where(Distributor.joined_at >= since)
    if until is not None:
        stmt = stmt.where(Distributor.joined_at < until)
    return int(await session.scalar(stmt) or 0)


async def team_members(session: AsyncSession, root: Distributor, *, max_depth: int, first: int | None,
                       after: str | None, joined_since: datetime | None = None) -> Page:
    if max_depth < 1:
        raise ServiceError(ErrorCode.INVALID, "depth must be at least 1.", "depth")
    stmt = (select(Distributor)
            .where(in_subtree(Distributor.path, root.path, include_self=False),
                   Distributor.depth <= root.depth + max_depth))
    if joined_since is not None:
        stmt = stmt.where(Distributor.joined_at >= joined_since)
    return await paginate(session, stmt, [SortKey(Distributor.depth), SortKey(Distributor.id)],
                          first=first, after=after)


async def team_sizes(session: AsyncSession, ids: list[int]) -> dict[int, int]:
    """Team size (all descendants) of each distributor, in one query whatever the number of ids."""
    member = aliased(Distributor)
    rows = await session.execute(
        select(Distributor.id, func.count(member.id))
        .join(member, column_in_subtree_of(member.path, Distributor.path, include_self=False))
        .where(Distributor.id.in_(ids))
        .group_by(Distributor.id))
    sizes = {i: 0 for i in ids}
    sizes.update({int(i): int(c) for i, c in rows.all()})
    return sizes
