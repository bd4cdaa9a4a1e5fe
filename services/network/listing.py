"""Lists of distributors and applications, newest first: staff see all, a customer their own."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from auth.permissions import Permission
from auth.viewer import Viewer
from core.pagination import Page, SortKey, paginate
from models.network import Application, ApplicationStatus, Distributor, DistributorStatus


async def list_distributors(session: AsyncSession, viewer: Viewer, *, status: DistributorStatus | None,
                            first: int | None, after: str | None) -> Page:
    viewer.require(Permission.MANAGE_DISTRIBUTORS)
    stmt = select(Distributor)
    if status is not None:
        stmt = stmt.where(Distributor.status == status)
    return await paginate(session, stmt, [SortKey(Distributor.id, descending=True)], first=first, after=after)


async def list_applications(session: AsyncSession, viewer: Viewer, *, status: ApplicationStatus | None,
                            first: int | None, after: str | None) -> Page:
    viewer.require(Permission.MANAGE_DISTRIBUTORS)
    stmt = select(Application)
    if status is not None:
        stmt = stmt.where(Application.status == status)
    return await paginate(session, stmt, [SortKey(Application.id, descending=True)], first=first, after=after)


async def my_applications(session: AsyncSession, viewer: Viewer, *, first: int | None, after: str | None) -> Page:
    user_id = viewer.require_user()
    stmt = select(Application).where(Application.user_id == user_id)
    return await paginate(session, stmt, [SortKey(Application.id, descending=True)], first=first, after=after)
