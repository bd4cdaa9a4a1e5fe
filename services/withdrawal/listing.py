"""Reading withdrawals: the filters, the lists and the by-id lookup, each through the access
rules of services.withdrawal.access."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from auth.viewer import Viewer
from core.pagination import Page, SortKey, paginate
from models.withdrawal import PayoutMethod, Withdrawal, WithdrawalStatus
from services.withdrawal.access import can_view_withdrawal, require_read_all

NEWEST_FIRST = [SortKey(Withdrawal.id, descending=True)]


@dataclass
class WithdrawalFilter:
    status: WithdrawalStatus | None = None
    method: PayoutMethod | None = None
    user_id: int | None = None
    created_from: datetime | None = None
    created_before: datetime | None = None


def filtered(stmt, flt: WithdrawalFilter):
    if flt.status is not None:
        stmt = stmt.where(Withdrawal.status == flt.status)
    if flt.method is not None:
        stmt = stmt.where(Withdrawal.method == flt.method)
    if flt.user_id is not None:
        stmt = stmt.where(Withdrawal.user_id == flt.user_id)
    if flt.created_from is not None:
        stmt = stmt.where(Withdrawal.created_at >= flt.created_from)
    if flt.created_before is not None:
        stmt = stmt.where(Withdrawal.created_at < flt.created_before)
    return stmt


async def list_withdrawals(session: AsyncSession, viewer: Viewer, flt: WithdrawalFilter, *,
                           first: int | None, after: str | None) -> Page:
    """Every withdrawal, newest first: MANAGE_FINANCE (and VIEW_REPORTS, numbers masked)."""
    require_read_all(viewer)
    return await paginate(session, filtered(select(Withdrawal), flt), NEWEST_FIRST, first=first, after=after)


async def my_withdrawals(session: AsyncSession, viewer: Viewer, *, status: WithdrawalStatus | None,
                         first: int | None, after: str | None) -> Page:
    user_id = viewer.require_user()
    stmt = filtered(select(Withdrawal), WithdrawalFilter(status=status, user_id=user_id))
    return await paginate(session, stmt, NEWEST_FIRST, first=first, after=after)


async def visible_withdrawals_by_ids(session: AsyncSession, viewer: Viewer, ids: list[int]
                                     ) -> dict[int, Withdrawal]:
    """The withdrawals among `ids` the viewer may see (e.g. through node(id:))."""
    if viewer.user_id is None:
        return {}
    rows = await session.scalars(select(Withdrawal).where(Withdrawal.id.in_(ids)))
    return {w.id: w for w in rows if can_view_withdrawal(viewer, w)}
