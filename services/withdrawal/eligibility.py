"""Who may withdraw: a distributor with a verified real name who accepted the agreement."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import ErrorCode, ServiceError
from models.network import Application, ApplicationStatus, Distributor, DistributorStatus


@dataclass(frozen=True)
class Identity:
    distributor: Distributor
    real_name: str


async def verified_identity(session: AsyncSession, user_id: int, *, require_active: bool) -> Identity:
    """The distributor and their verified real name; refuses the unverified or (if asked) inactive.

    Real name is verified when the approved application carried a name and an ID card number;
    the agreement is accepted when that application records an agreement version."""
    distributor = await session.scalar(select(Distributor).where(Distributor.user_id == user_id))
    if distributor is None or distributor.path is None:
        raise ServiceError(ErrorCode.NOT_A_DISTRIBUTOR, "Only distributors can withdraw.")
    if require_active and distributor.status != DistributorStatus.ACTIVE:
        raise ServiceError(ErrorCode.DISTRIBUTOR_INACTIVE,
                           f"Your distributor account is {distributor.status.value.lower()}.")
    application = await session.scalar(
        select(Application).where(Application.distributor_id == distributor.id,
                                  Application.status == ApplicationStatus.APPROVED)
        .order_by(Application.id.desc()).limit(1))
    if application is None or not (application.agreement_version or "").strip():
        raise ServiceError(ErrorCode.AGREEMENT_REQUIRED, "Accept the distributor agreement first.")
    if not (application.real_name and application.id_card_encrypted):
        raise ServiceError(ErrorCode.REAL_NAME_REQUIRED,
                           "Verify your real name (name and ID card) before withdrawing.")
    return Identity(distributor=distributor, real_name=application.real_name)
