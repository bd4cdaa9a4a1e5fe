"""Distributor states: which changes staff may make, and what a change does."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from auth.permissions import Permission
from auth.viewer import Viewer
from core.errors import ErrorCode, ServiceError
from models.base import utcnow
from models.network import Application, ApplicationStatus, Distributor, DistributorStatus
from services import audit
from services.network.tree import get_distributor

ALLOWED_TRANSITIONS = {
    (DistributorStatus.ACTIVE, DistributorStatus.FROZEN),
    (DistributorStatus.FROZEN, DistributorStatus.ACTIVE),
    (DistributorStatus.PENDING, DistributorStatus.BLACKLISTED),
    (DistributorStatus.ACTIVE, DistributorStatus.BLACKLISTED),
    (DistributorStatus.FROZEN, DistributorStatus.BLACKLISTED),
    (DistributorStatus.REJECTED, DistributorStatus.BLACKLISTED),
}


async def change_status(session: AsyncSession, viewer: Viewer, *, distributor_id: int,
                        status: DistributorStatus, reason: str) -> Distributor:
    """Staff freeze, unfreeze or blacklist a distributor. Frozen and blacklisted distributors keep
    their place and team in the tree but earn nothing new and take no new bindings."""
    actor_id = viewer.require(Permission.MANAGE_DISTRIBUTORS)
    if not (reason or "").strip():
        raise ServiceError(ErrorCode.REQUIRED, "Say why the status changes.", "reason")
    distributor = await get_distributor(session, distributor_id, lock=True)
    before = distributor.status
    if (before, status) not in ALLOWED_TRANSITIONS:
        raise ServiceError(ErrorCode.INVALID_TRANSITION,
                           f"A {before.value.lower()} distributor cannot become {status.value.lower()}.", "status")
    distributor.status = status
    distributor.status_changed_at = utcnow()
    if before == DistributorStatus.PENDING:
        pending = await session.scalars(select(Application).where(
            Application.distributor_id == distributor.id, Application.status == ApplicationStatus.PENDING))
        for application in pending:
            application.status = ApplicationStatus.REJECTED
            application.reject_reason = reason.strip()
            application.reviewed_by = actor_id
            application.reviewed_at = utcnow()
    await session.flush()
    await audit.record(session, actor_id=actor_id, action="distributor.status", subject_type="Distributor",
                       subject_id=distributor.id, reason=reason.strip(),
                       details={"before": before.value, "after": status.value})
    return distributor
