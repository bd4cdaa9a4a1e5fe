"""Where a distributor sits in the tree: joining it on approval and staff moves. Both change
the team figures of the new uplines, so both re-evaluate their grades."""

from __future__ import annotations

import secrets

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from auth.permissions import Permission
from auth.viewer import Viewer
from core.errors import ErrorCode, ServiceError
from models.base import utcnow
from models.network import Distributor, DistributorStatus, Grade, GradeChange, GradeChangeKind
from services import audit
from services import grade as grade_service
from services.network.customers import active_binding
from services.network.tree import check_no_cycle, get_distributor, rewrite_subtree

INVITE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I


def new_invite_code() -> str:
    return "".join(secrets.choice(INVITE_ALPHABET) for _ in range(8))


async def activate(session: AsyncSession, distributor: Distributor, inviter_id: int | None) -> None:
    """Put a newly approved distributor into the tree under their bound distributor (or inviter)."""
    parent = None
    binding = await active_binding(session, distributor.user_id)
    for candidate_id in (binding.distributor_id if binding else None, inviter_id):
        if candidate_id is None:
            continue
        candidate = await session.get(Distributor, candidate_id)
        if candidate is not None and candidate.path and candidate.status == DistributorStatus.ACTIVE:
            parent = candidate
            break
    now = utcnow()
    distributor.parent_id = parent.id if parent else None
    distributor.path = (parent.path if parent else "/") + f"{distributor.id}/"
    distributor.depth = parent.depth + 1 if parent else 0
    while True:
        code = new_invite_code()
        if await session.scalar(select(Distributor.id).where(Distributor.invite_code == code)) is None:
            break
    distributor.invite_code = code
    distributor.status = DistributorStatus.ACTIVE
    distributor.status_changed_at = now
    distributor.joined_at = now
    first_grade = await session.scalar(select(Grade).order_by(Grade.level).limit(1))
    if first_grade is not None and distributor.grade_id is None:
        distributor.grade_id = first_grade.id
        session.add(GradeChange(distributor_id=distributor.id, from_grade_id=None, to_grade_id=first_grade.id,
                                kind=GradeChangeKind.INITIAL, reason="joined"))
    await session.flush()
    if parent is not None:
        await grade_service.evaluate_chain(session, parent)


async def move_subtree(session: AsyncSession, viewer: Viewer, *, distributor_id: int,
                       new_parent_id: int | None, reason: str) -> Distributor:
    """Staff move a distributor with their whole subtree under another upline (or to the top).
    Commission already earned stays; only orders paid after the move follow the new tree."""
    actor_id = viewer.require(Permission.MANAGE_DISTRIBUTORS)
    if not reason.strip():
        raise ServiceError(ErrorCode.REQUIRED, "Say why the distributor moves.", "reason")
    distributor = await get_distributor(session, distributor_id, lock=True)
    if distributor.path is None:
        raise ServiceError(ErrorCode.NOT_A_DISTRIBUTOR, "This distributor has not joined the network yet.",
                           "distributorId")
    new_parent = None
    if new_parent_id is not None:
        new_parent = await get_distributor(session, new_parent_id, "newUplineId", lock=True)
        if new_parent.path is None:
            raise ServiceError(ErrorCode.NOT_A_DISTRIBUTOR, "The new upline has not joined the network.",
                               "newUplineId")
        check_no_cycle(distributor, new_parent, "newUplineId")
    old_parent_id = distributor.parent_id
    await rewrite_subtree(session, distributor, new_parent)
    await audit.record(session, actor_id=actor_id, action="distributor.move", subject_type="Distributor",
                       subject_id=distributor_id, reason=reason.strip(),
                       details={"from_upline": old_parent_id, "to_upline": new_parent_id})
    if new_parent is not None:
        await grade_service.evaluate_chain(session, new_parent)
    return distributor
