"""Becoming a distributor: applying (in every join mode, never for a fee), the purchase
thresholds, and staff review."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from auth.permissions import Permission
from auth.viewer import Viewer
from core.config import Settings
from core.crypto import encrypt_field
from core.errors import ErrorCode, ServiceError
from core.money import format_money
from models.base import utcnow
from models.network import (
    Application,
    ApplicationStatus,
    ConditionMode,
    CustomerPurchasedProduct,
    Distributor,
    DistributorStatus,
    JoinMode,
    Program,
    Region,
)
from realtime import outbox
from services import audit
from services.network.customers import active_binding, customer_stats
from services.network.placement import activate
from services.network.program import get_program
from services.network.tree import distributor_for_user, get_distributor

ID_CARD_RE = re.compile(r"^\d{17}[\dX]$")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def normalize_id_card(number: str) -> str:
    number = (number or "").strip().upper()
    if not ID_CARD_RE.match(number):
        raise ServiceError(ErrorCode.INVALID_ID_CARD, "Enter an 18-character resident ID card number.",
                           "idCardNumber")
    total = sum(int(d) * w for d, w in zip(number[:17], _ID_WEIGHTS, strict=True))
    if _ID_CHECK[total % 11] != number[17]:
        raise ServiceError(ErrorCode.INVALID_ID_CARD, "This ID card number's check digit is wrong.",
                           "idCardNumber")
    return number


async def missing_thresholds(session: AsyncSession, program: Program, user_id: int) -> list[str]:
    """What the customer still lacks under the purchase-threshold rule (empty when met)."""
    stats = await customer_stats(session, user_id)
    checks: list[tuple[bool, str]] = []
    if program.threshold_sales_fen is not None:
        short = program.threshold_sales_fen - stats.completed_sales_fen
        checks.append((short <= 0, f"spend {format_money(max(short, 0))} more (completed purchases "
                                   f"{format_money(stats.completed_sales_fen)} of "
                                   f"{format_money(program.threshold_sales_fen)})"))
    if program.threshold_orders is not None:
        short = program.threshold_orders - stats.completed_orders
        checks.append((short <= 0, f"complete {max(short, 0)} more order(s) ({stats.completed_orders} of "
                                   f"{program.threshold_orders})"))
    if program.threshold_product_id is not None:
        bought = await session.scalar(select(CustomerPurchasedProduct.id).where(
            CustomerPurchasedProduct.user_id == user_id,
            CustomerPurchasedProduct.product_id == program.threshold_product_id))
        checks.append((bought is not None, f"buy product {program.threshold_product_id}"))
    if not checks:
        return []
    met = [ok for ok, _ in checks]
    if (program.threshold_mode == ConditionMode.ANY and any(met)) or all(met):
        return []
    return [text for ok, text in checks if not ok]


def _clean_form(program: Program, form_data: dict[str, str]) -> dict[str, str]:
    """The answers to the program's form fields: required ones present, unknown ones refused."""
    clean_form: dict[str, str] = {}
    configured = {f["key"]: f for f in program.form_fields}
    for key, spec in configured.items():
        value = (form_data.get(key) or "").strip()
        if spec.get("required") and not value:
            raise ServiceError(ErrorCode.REQUIRED, f"{spec.get('label') or key} is required.", f"formData.{key}")
        if value:
            clean_form[key] = value[:500]
    extra = set(form_data) - set(configured)
    if extra:
        raise ServiceError(ErrorCode.INVALID, f"Unknown form field {sorted(extra)[0]!r}.", "formData")
    return clean_form


async def _inviter(session: AsyncSession, invite_code: str | None, user_id: int) -> Distributor | None:
    if not invite_code:
        return None
    inviter = await session.scalar(select(Distributor).where(Distributor.invite_code == invite_code.strip().upper()))
    if inviter is None or inviter.status != DistributorStatus.ACTIVE:
        raise ServiceError(ErrorCode.NOT_FOUND, "This invite code is not valid.", "inviteCode")
    if inviter.user_id == user_id:
        raise ServiceError(ErrorCode.SELF_BINDING, "You cannot use your own invite code.", "inviteCode")
    return inviter


async def apply(session: AsyncSession, viewer: Viewer, settings: Settings, *, form_data: dict[str, str],
                agreement_version: str, real_name: str | None = None, id_card_number: str | None = None,
                invite_code: str | None = None, region_id: int | None = None) -> Application:
    """A customer applies to become a distributor. No entry fee exists in any mode."""
    user_id = viewer.require_user()
    program = await get_program(session)
    distributor = await distributor_for_user(session, user_id, lock=True)
    if distributor is not None:
        if distributor.status == DistributorStatus.BLACKLISTED:
            raise ServiceError(ErrorCode.BLACKLISTED, "You cannot apply: this account is blacklisted.")
        if distributor.status in (DistributorStatus.ACTIVE, DistributorStatus.FROZEN):
            raise ServiceError(ErrorCode.ALREADY_DISTRIBUTOR, "You are already a distributor.")
        if distributor.status == DistributorStatus.PENDING:
            raise ServiceError(ErrorCode.APPLICATION_PENDING, "Your application is waiting for review.")
    if agreement_version != program.agreement_version:
        raise ServiceError(ErrorCode.AGREEMENT_OUTDATED,
                           f"Accept the current agreement (version {program.agreement_version}).",
                           "agreementVersion")
    clean_form = _clean_form(program, form_data)
    id_card_encrypted = None
    if program.require_real_name or real_name or id_card_number:
        if not (real_name or "").strip():
            raise ServiceError(ErrorCode.REQUIRED, "Enter your real name.", "realName")
        if not id_card_number:
            raise ServiceError(ErrorCode.REQUIRED, "Enter your ID card number.", "idCardNumber")
        id_card_encrypted = encrypt_field(settings.field_encryption_key, normalize_id_card(id_card_number),
                                          context="id_card")
    if region_id is not None and await session.get(Region, region_id) is None:
        raise ServiceError(ErrorCode.NOT_FOUND, "No region has this code.", "regionCode")
    inviter = await _inviter(session, invite_code, user_id)
    if program.join_mode == JoinMode.INVITE_ONLY and inviter is None:
        binding = await active_binding(session, user_id)
        if binding is None:
            raise ServiceError(ErrorCode.INVITE_REQUIRED, "Joining is by invitation only: enter an invite code.",
                               "inviteCode")
    if program.join_mode == JoinMode.PURCHASE_THRESHOLD:
        missing = await missing_thresholds(session, program, user_id)
        if missing:
            joiner = " or " if program.threshold_mode == ConditionMode.ANY else " and "
            raise ServiceError(ErrorCode.THRESHOLD_NOT_MET, "To join, " + joiner.join(missing) + ".")
    now = utcnow()
    if distributor is None:
        distributor = Distributor(user_id=user_id, status=DistributorStatus.PENDING, status_changed_at=now,
                                  depth=0, personal_sales_fen=0, personal_order_count=0)
        session.add(distributor)
    distributor.status = DistributorStatus.PENDING
    distributor.status_changed_at = now
    distributor.region_id = region_id
    await session.flush()
    application = Application(user_id=user_id, distributor_id=distributor.id, status=ApplicationStatus.PENDING,
                              join_mode=program.join_mode, form_data=clean_form,
                              real_name=(real_name or "").strip() or None, id_card_encrypted=id_card_encrypted,
                              agreement_version=agreement_version, inviter_id=inviter.id if inviter else None)
    session.add(application)
    await session.flush()
    if program.join_mode != JoinMode.APPLY_AUDIT:
        await _approve(session, application, distributor, actor_id=None)
    await _announce(session, application)
    return application


async def _announce(session: AsyncSession, application: Application) -> None:
    """The applicant (and MANAGE_DISTRIBUTORS staff) see the application's state live."""
    await outbox.emit(session, event_type=outbox.APPLICATION_UPDATED, subject_type="DistributorApplication",
                      subject_id=application.id, audience_user_ids=[application.user_id],
                      payload={"status": application.status.value, "rejectReason": application.reject_reason})


async def _approve(session: AsyncSession, application: Application, distributor: Distributor,
                   actor_id: int | None) -> None:
    application.status = ApplicationStatus.APPROVED
    application.reviewed_by = actor_id
    application.reviewed_at = utcnow()
    await activate(session, distributor, application.inviter_id)


async def review_application(session: AsyncSession, viewer: Viewer, *, application_id: int, approve: bool,
                             reason: str | None) -> Application:
    actor_id = viewer.require(Permission.MANAGE_DISTRIBUTORS)
    application = await session.scalar(select(Application).where(Application.id == application_id)
                                       .with_for_update())
    if application is None:
        raise ServiceError(ErrorCode.NOT_FOUND, "No application has this id.", "applicationId")
    if application.status != ApplicationStatus.PENDING:
        raise ServiceError(ErrorCode.INVALID_TRANSITION,
                           f"This application is already {application.status.value.lower()}.", "applicationId")
    reason = (reason or "").strip() or None
    distributor = await get_distributor(session, application.distributor_id, lock=True)
    if approve:
        await _approve(session, application, distributor, actor_id)
    else:
        if reason is None:
            raise ServiceError(ErrorCode.REQUIRED, "Say why the application is rejected.", "reason")
        application.status = ApplicationStatus.REJECTED
        application.reject_reason = reason
        application.reviewed_by = actor_id
        application.reviewed_at = utcnow()
        distributor.status = DistributorStatus.REJECTED
        distributor.status_changed_at = utcnow()
    await session.flush()
    await audit.record(session, actor_id=actor_id,
                       action="distributor.application." + ("approve" if approve else "reject"),
                       subject_type="DistributorApplication", subject_id=application.id, reason=reason)
    await _announce(session, application)
    return application
