"""Who may see and edit what in the catalog.

Staff with MANAGE_CATALOG edit everything and see suppliers, distribution rules, every grade's
purchase prices and commission overrides. An active distributor sees price bands and their own
grade's purchase prices and overrides. Customers see none of these. Every path to these fields
(nested fields, `node`, connections) asks these functions.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from auth.permissions import Permission
from auth.viewer import Viewer
from models.network import Distributor, DistributorStatus


def is_catalog_staff(viewer: Viewer) -> bool:
    return viewer.has(Permission.MANAGE_CATALOG)


def require_catalog_staff(viewer: Viewer) -> int:
    """The acting staff member's user id; refuses everyone without MANAGE_CATALOG."""
    return viewer.require(Permission.MANAGE_CATALOG)


async def active_distributors_by_user_ids(session: AsyncSession, user_ids: list[int]) -> dict[int, Distributor]:
    """Users' own distributor records, only those active in the network (they see bands and
    their own grade's purchase prices)."""
    rows = await session.scalars(select(Distributor).where(
        Distributor.user_id.in_(user_ids), Distributor.status == DistributorStatus.ACTIVE,
        Distributor.path.is_not(None)))
    return {d.user_id: d for d in rows}


def sees_suppliers(viewer: Viewer) -> bool:
    return is_catalog_staff(viewer)


def sees_distribution_rules(viewer: Viewer) -> bool:
    """Which grades and regions may distribute a product."""
    return is_catalog_staff(viewer)


def sees_bands(viewer: Viewer, own_distributor: Distributor | None) -> bool:
    """`own_distributor`: the viewer's active distributor record, if any."""
    return is_catalog_staff(viewer) or own_distributor is not None


@dataclass(frozen=True)
class GradeView:
    """Whose grade-specific catalog data (purchase prices, commission overrides) a viewer sees:
    every grade's, one grade's, or none."""

    every_grade: bool = False
    grade_id: int | None = None

    @property
    def sees_any(self) -> bool:
        return self.every_grade or self.grade_id is not None


def grade_view(viewer: Viewer, own_distributor: Distributor | None) -> GradeView:
    """Every grade's for catalog staff, their own grade's for an active distributor, none else."""
    if is_catalog_staff(viewer):
        return GradeView(every_grade=True)
    if own_distributor is None or own_distributor.grade_id is None:
        return GradeView()
    return GradeView(grade_id=own_distributor.grade_id)
