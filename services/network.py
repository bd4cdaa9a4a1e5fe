"""The distributor network: the program configuration, applications and audit, distributor
states, and the team tree (parent links plus a materialized path).

Paths are "/<root id>/.../<own id>/"; a subtree is the byte range [path, path[:-1] + "0"),
which both databases answer from the unique index on `path`.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import String, and_, func, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from auth.permissions import Permission
from auth.viewer import Viewer
from core.config import Settings
from core.crypto import encrypt_field
from core.errors import ErrorCode, PermissionDenied, ServiceError
from core.pagination import Page, SortKey, paginate
from models.base import utcnow
from models.network import (
    Application,
    ApplicationStatus,
    BindingMode,
    ConditionMode,
    CustomerBinding,
    CustomerPurchasedProduct,
    CustomerStats,
    Distributor,
    DistributorStatus,
    Grade,
    GradeChange,
    GradeChangeKind,
    JoinMode,
    Program,
    Region,
)
from realtime import outbox
from services import audit

PROGRAM_ID = 1
MAX_COMMISSION_DEPTH = 3  # a hard cap, whatever the configuration asks for
INVITE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I


# ---------------------------------------------------------------- the tree

def subtree_bounds(path: str) -> tuple[str, str]:
    """[low, high) of the paths in the subtree rooted at `path` (itself included)."""
    return path, path[:-1] + "0"


def in_subtree(column, path: str, *, include_self: bool = True):
    low, high = subtree_bounds(path)
    lower = column >= low if include_self else column > low
    return and_(lower, column < high)


def column_in_subtree_of(column, root_path_column, *, include_self: bool = True):
    """`column` lies in the subtree of the path held by another column (for joins)."""
    high = func.substr(root_path_column, 1, func.length(root_path_column) - 1, type_=String) + literal("0")
    lower = column >= root_path_column if include_self else column > root_path_column
    return and_(lower, column < high)


def path_ids(path: str) -> list[int]:
    return [int(part) for part in path.strip("/").split("/") if part]


async def distributor_for_user(session: AsyncSession, user_id: int, *, lock: bool = False) -> Distributor | None:
    stmt = select(Distributor).where(Distributor.user_id == user_id)
    if lock:
        stmt = stmt.with_for_update()
    return await session.scalar(stmt)


async def require_own_distributor(session: AsyncSession, viewer: Viewer, *, active: bool = False) -> Distributor:
    user_id = viewer.require_user()
    distributor = await distributor_for_user(session, user_id)
    if distributor is None or distributor.path is None:
        raise ServiceError(ErrorCode.NOT_A_DISTRIBUTOR, "You are not a distributor yet.")
    if active and distributor.status != DistributorStatus.ACTIVE:
        raise ServiceError(ErrorCode.DISTRIBUTOR_INACTIVE,
                           f"Your distributor account is {distributor.status.value.lower()}.")
    return distributor


async def get_distributor(session: AsyncSession, distributor_id: int, field: str = "distributorId",
                          *, lock: bool = False) -> Distributor:
    stmt = select(Distributor).where(Distributor.id == distributor_id)
    if lock:
        stmt = stmt.with_for_update()
    distributor = await session.scalar(stmt)
    if distributor is None:
        raise ServiceError(ErrorCode.NOT_FOUND, "No distributor has this id.", field)
    return distributor


def can_see_distributor(viewer: Viewer, own: Distributor | None, target: Distributor) -> bool:
    """Staff see anyone; a distributor sees themself and their own subtree."""
    if viewer.has(Permission.MANAGE_DISTRIBUTORS):
        return True
    if own is None:
        return False
    if own.id == target.id:
        return True
    return bool(own.path and target.path and target.path.startswith(own.path))


async def team_root(session: AsyncSession, viewer: Viewer, distributor_id: int | None) -> Distributor:
    """The distributor whose team the viewer asks about, after the access check."""
    user_id = viewer.require_user()
    if distributor_id is None:
        return await require_own_distributor(session, viewer)
    target = await get_distributor(session, distributor_id)
    own = None if viewer.has(Permission.MANAGE_DISTRIBUTORS) else await distributor_for_user(session, user_id)
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


async def ancestors(session: AsyncSession, distributor: Distributor, depth: int | None = None) -> list[Distributor]:
    """Uplines nearest first, one primary-key query."""
    if not distributor.path:
        return []
    ids = path_ids(distributor.path)[:-1][::-1]
    if depth is not None:
        ids = ids[:depth]
    if not ids:
        return []
    rows = {d.id: d for d in await session.scalars(select(Distributor).where(Distributor.id.in_(ids)))}
    return [rows[i] for i in ids if i in rows]


async def ancestors_for_commission(session: AsyncSession, distributor_id: int, depth: int) -> list[Distributor]:
    """The uplines of a distributor, nearest first, at most `depth` (capped at the three-tier
    limit) of them, in one query. Inactive uplines are returned too: the commission engine skips
    them without moving anyone up into their place."""
    depth = max(0, min(depth, MAX_COMMISSION_DEPTH))
    if depth == 0:
        return []
    # Walk up the parent links with a recursive CTE: `depth` primary-key lookups in one statement.
    start = select(Distributor.parent_id.label("id"), literal(1).label("tier")).where(
        Distributor.id == distributor_id).cte("uplines", recursive=True)
    parent = aliased(Distributor)
    start = start.union_all(
        select(parent.parent_id, start.c.tier + 1)
        .join(start, parent.id == start.c.id)
        .where(start.c.tier < depth, parent.parent_id.is_not(None)))
    stmt = (select(Distributor).join(start, Distributor.id == start.c.id).order_by(start.c.tier))
    return list((await session.scalars(stmt)).all())


async def _move(session: AsyncSession, distributor: Distributor, new_parent: Distributor | None) -> None:
    """Rewrite the paths of a whole subtree with one UPDATE (both databases)."""
    old_path = distributor.path
    new_prefix = (new_parent.path if new_parent else "/") + f"{distributor.id}/"
    delta = (new_parent.depth + 1 if new_parent else 0) - distributor.depth
    await session.execute(
        update(Distributor)
        .where(in_subtree(Distributor.path, old_path))
        .values(path=literal(new_prefix) + func.substr(Distributor.path, len(old_path) + 1, type_=String),
                depth=Distributor.depth + delta)
        .execution_options(synchronize_session=False))
    await session.execute(update(Distributor).where(Distributor.id == distributor.id)
                          .values(parent_id=new_parent.id if new_parent else None)
                          .execution_options(synchronize_session=False))
    # The identity map may hold stale paths of moved rows: reload those rows in one query.
    loaded = [obj.id for obj in list(session.identity_map.values()) if isinstance(obj, Distributor)]
    if loaded:
        await session.execute(select(Distributor).where(Distributor.id.in_(loaded))
                              .execution_options(populate_existing=True))


def check_no_cycle(distributor: Distributor, new_parent: Distributor | None, field: str) -> None:
    if new_parent is None:
        return
    if new_parent.id == distributor.id:
        raise ServiceError(ErrorCode.SELF_BINDING, "A distributor cannot be their own upline.", field)
    if distributor.path and new_parent.path and new_parent.path.startswith(distributor.path):
        raise ServiceError(ErrorCode.CYCLE, "The new upline is in this distributor's own team; that would "
                                            "make a cycle.", field)


async def attach_under(session: AsyncSession, distributor: Distributor, new_parent: Distributor) -> None:
    """Give a top-level distributor (and their subtree) an upline; cycle-checked."""
    check_no_cycle(distributor, new_parent, "upline")
    await _move(session, distributor, new_parent)


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
    await _move(session, distributor, new_parent)
    await audit.record(session, actor_id=actor_id, action="distributor.move", subject_type="Distributor",
                       subject_id=distributor_id, reason=reason.strip(),
                       details={"from_upline": old_parent_id, "to_upline": new_parent_id})
    from services import grade as grade_service

    if new_parent is not None:
        await grade_service.evaluate_chain(session, new_parent)
    return distributor


# ---------------------------------------------------------------- the program

def default_program() -> Program:
    return Program(id=PROGRAM_ID, join_mode=JoinMode.APPLY_AUDIT, form_fields=[], require_real_name=False,
                   agreement_text="", agreement_version="1", binding_mode=BindingMode.FIRST_TOUCH,
                   protection_days=30, self_purchase_commission=False, commission_depth=2,
                   threshold_sales_fen=None, threshold_orders=None, threshold_product_id=None,
                   threshold_mode=ConditionMode.ANY, updated_at=utcnow())


async def get_program(session: AsyncSession) -> Program:
    """The program's configuration (the defaults until staff first save it)."""
    program = await session.get(Program, PROGRAM_ID)
    return program if program is not None else default_program()


FIELD_KEY_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,31}$")
PROGRAM_FIELDS = ("join_mode", "form_fields", "require_real_name", "agreement_text", "agreement_version",
                  "binding_mode", "protection_days", "self_purchase_commission", "commission_depth",
                  "threshold_sales_fen", "threshold_orders", "threshold_product_id", "threshold_mode")


def _plain(value):
    return value.value if hasattr(value, "value") else value


async def update_program(session: AsyncSession, viewer: Viewer, changes: dict) -> Program:
    """Staff edit the program; every change is audited with its before and after values."""
    actor_id = viewer.require(Permission.MANAGE_DISTRIBUTORS)
    unknown = set(changes) - set(PROGRAM_FIELDS)
    if unknown:
        raise ValueError(f"unknown program fields {unknown}")
    if "commission_depth" in changes:
        depth = changes["commission_depth"]
        if depth is None or depth < 1:
            raise ServiceError(ErrorCode.INVALID, "The commission depth is 1, 2 or 3.", "commissionDepth")
        if depth > MAX_COMMISSION_DEPTH:
            raise ServiceError(ErrorCode.TIER_LIMIT, f"At most {MAX_COMMISSION_DEPTH} commission tiers are "
                                                     "allowed.", "commissionDepth")
    if changes.get("protection_days") is not None and changes["protection_days"] < 1:
        raise ServiceError(ErrorCode.INVALID, "The protection period is at least one day (or permanent).",
                           "protectionDays")
    for key, field in (("threshold_sales_fen", "thresholdSales"), ("threshold_orders", "thresholdOrders")):
        if changes.get(key) is not None and changes[key] < 0:
            raise ServiceError(ErrorCode.INVALID, "Thresholds cannot be negative.", field)
    if "agreement_version" in changes and not (changes["agreement_version"] or "").strip():
        raise ServiceError(ErrorCode.REQUIRED, "The agreement needs a version.", "agreementVersion")
    if "form_fields" in changes:
        seen = set()
        for item in changes["form_fields"]:
            if not FIELD_KEY_RE.match(item["key"]) or item["key"] in seen:
                raise ServiceError(ErrorCode.INVALID, f"Form field keys must be unique identifiers; "
                                                      f"{item['key']!r} is not.", "formFields")
            seen.add(item["key"])
    program = await session.get(Program, PROGRAM_ID, with_for_update=True)
    if program is None:
        program = default_program()
        session.add(program)
    before, after = {}, {}
    for key, value in changes.items():
        old = getattr(program, key)
        if old != value:
            before[key], after[key] = _plain(old), _plain(value)
            setattr(program, key, value)
    if after:
        program.updated_at = utcnow()
        await session.flush()
        await audit.record(session, actor_id=actor_id, action="program.update", subject_type="Program",
                           subject_id=PROGRAM_ID, details={"before": before, "after": after})
    return program


# ---------------------------------------------------------------- applications

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


async def customer_stats(session: AsyncSession, user_id: int) -> CustomerStats:
    stats = await session.get(CustomerStats, user_id)
    return stats or CustomerStats(user_id=user_id, completed_sales_fen=0, completed_orders=0)


async def missing_thresholds(session: AsyncSession, program: Program, user_id: int) -> list[str]:
    """What the customer still lacks under the purchase-threshold rule (empty when met)."""
    from core.money import format_money

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


async def active_binding(session: AsyncSession, customer_id: int, now: datetime | None = None
                         ) -> CustomerBinding | None:
    now = now or utcnow()
    binding = await session.scalar(select(CustomerBinding).where(CustomerBinding.customer_id == customer_id))
    if binding is None or binding.released_at is not None:
        return None
    if binding.expires_at is not None and binding.expires_at <= now:
        return None
    return binding


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
    inviter = None
    if invite_code:
        inviter = await session.scalar(select(Distributor).where(
            Distributor.invite_code == invite_code.strip().upper()))
        if inviter is None or inviter.status != DistributorStatus.ACTIVE:
            raise ServiceError(ErrorCode.NOT_FOUND, "This invite code is not valid.", "inviteCode")
        if inviter.user_id == user_id:
            raise ServiceError(ErrorCode.SELF_BINDING, "You cannot use your own invite code.", "inviteCode")
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


def new_invite_code() -> str:
    return "".join(secrets.choice(INVITE_ALPHABET) for _ in range(8))


async def _activate(session: AsyncSession, distributor: Distributor, inviter_id: int | None) -> None:
    """Put a newly approved distributor into the tree under their bound distributor (or inviter)."""
    from services import grade as grade_service

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


async def _approve(session: AsyncSession, application: Application, distributor: Distributor,
                   actor_id: int | None) -> None:
    application.status = ApplicationStatus.APPROVED
    application.reviewed_by = actor_id
    application.reviewed_at = utcnow()
    await _activate(session, distributor, application.inviter_id)


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


async def get_application(session: AsyncSession, viewer: Viewer, application_id: int) -> Application | None:
    application = await session.get(Application, application_id)
    if application is None:
        return None
    if application.user_id != viewer.user_id and not viewer.has(Permission.MANAGE_DISTRIBUTORS):
        return None
    return application


# ---------------------------------------------------------------- states

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


async def list_distributors(session: AsyncSession, viewer: Viewer, *, status: DistributorStatus | None,
                            first: int | None, after: str | None) -> Page:
    viewer.require(Permission.MANAGE_DISTRIBUTORS)
    stmt = select(Distributor)
    if status is not None:
        stmt = stmt.where(Distributor.status == status)
    return await paginate(session, stmt, [SortKey(Distributor.id, descending=True)], first=first, after=after)


async def distributors_by_ids(session: AsyncSession, ids: list[int]) -> dict[int, Distributor]:
    return {d.id: d for d in await session.scalars(select(Distributor).where(Distributor.id.in_(ids)))}


async def distributors_by_user_ids(session: AsyncSession, ids: list[int]) -> dict[int, Distributor]:
    return {d.user_id: d for d in await session.scalars(select(Distributor).where(Distributor.user_id.in_(ids)))}


async def visible_distributor(session: AsyncSession, viewer: Viewer, distributor_id: int) -> Distributor | None:
    """A distributor as a node: to staff, to themself and to their uplines."""
    if viewer.user_id is None:
        return None
    target = await session.get(Distributor, distributor_id)
    if target is None:
        return None
    own = None if viewer.has(Permission.MANAGE_DISTRIBUTORS) else await distributor_for_user(session, viewer.user_id)
    return target if can_see_distributor(viewer, own, target) else None
