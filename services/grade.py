"""Distributor grades: ordered levels with per-tier rates, a purchase discount and upgrade
conditions; automatic upgrades, staff overrides and the grade history. Partner (合伙人) is a
grade flagged `is_partner`, reached only by its conditions or by staff."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from auth.permissions import Permission
from auth.viewer import Viewer
from core.errors import ErrorCode, PermissionDenied, ServiceError
from core.pagination import Page, SortKey, paginate
from models.network import (
    ConditionMode,
    CustomerPurchasedProduct,
    CustomerStats,
    Distributor,
    DistributorStatus,
    Grade,
    GradeChange,
    GradeChangeKind,
)
from services import audit
from services.network.access import is_network_staff
from services.network.changes import apply_changes
from services.network.tree import ancestors, column_in_subtree_of, get_distributor, require_own_distributor

GRADE_FIELDS = ("name", "level", "tier1_rate_bps", "tier2_rate_bps", "tier3_rate_bps", "discount_bps",
                "condition_mode", "min_personal_sales_fen", "min_personal_orders", "min_team_sales_fen",
                "min_team_orders", "min_direct_members", "min_team_size", "is_partner", "team_bonus_bps")
CONDITION_FIELDS = ("min_personal_sales_fen", "min_personal_orders", "min_team_sales_fen", "min_team_orders",
                    "min_direct_members", "min_team_size")


@dataclass
class Metrics:
    personal_sales_fen: int = 0
    personal_orders: int = 0
    team_sales_fen: int = 0  # the distributor's own plus their whole subtree's
    team_orders: int = 0
    direct_members: int = 0
    team_size: int = 0  # everyone below, at any depth


def _validate(values: dict) -> None:
    if "name" in values and not (values["name"] or "").strip():
        raise ServiceError(ErrorCode.REQUIRED, "A grade needs a name.", "name")
    if "level" in values and (values["level"] is None or values["level"] < 1):
        raise ServiceError(ErrorCode.INVALID, "Levels start at 1.", "level")
    for key in CONDITION_FIELDS:
        if values.get(key) is not None and values[key] < 0:
            raise ServiceError(ErrorCode.INVALID, "Conditions cannot be negative.", key)


async def _level_free(session: AsyncSession, level: int, grade_id: int | None) -> None:
    existing = await session.scalar(select(Grade.id).where(Grade.level == level))
    if existing is not None and existing != grade_id:
        raise ServiceError(ErrorCode.GRADE_LEVEL_TAKEN, f"Another grade already has level {level}.", "level")


async def create_grade(session: AsyncSession, viewer: Viewer, values: dict) -> Grade:
    actor_id = viewer.require(Permission.MANAGE_DISTRIBUTORS)
    _validate(values)
    await _level_free(session, values["level"], None)
    grade = Grade(**{"tier1_rate_bps": 0, "tier2_rate_bps": 0, "tier3_rate_bps": 0, "discount_bps": 0,
                     "condition_mode": ConditionMode.ALL, "is_partner": False, "team_bonus_bps": 0, **values})
    grade.name = grade.name.strip()
    session.add(grade)
    await session.flush()
    await audit.record(session, actor_id=actor_id, action="grade.create", subject_type="Grade",
                       subject_id=grade.id, details={"name": grade.name, "level": grade.level})
    return grade


async def update_grade(session: AsyncSession, viewer: Viewer, grade_id: int, values: dict) -> Grade:
    actor_id = viewer.require(Permission.MANAGE_DISTRIBUTORS)
    grade = await session.get(Grade, grade_id)
    if grade is None:
        raise ServiceError(ErrorCode.NOT_FOUND, "No grade has this id.", "gradeId")
    _validate(values)
    if "level" in values:
        await _level_free(session, values["level"], grade.id)
    before, after = apply_changes(grade, values)
    await session.flush()
    if after:
        await audit.record(session, actor_id=actor_id, action="grade.update", subject_type="Grade",
                           subject_id=grade.id, details={"before": before, "after": after})
    return grade


async def list_grades(session: AsyncSession) -> list[Grade]:
    return list((await session.scalars(select(Grade).order_by(Grade.level))).all())


async def grades_by_ids(session: AsyncSession, ids: list[int]) -> dict[int, Grade]:
    return {g.id: g for g in await session.scalars(select(Grade).where(Grade.id.in_(ids)))}


async def metrics(session: AsyncSession, ids: list[int]) -> dict[int, Metrics]:
    """Upgrade metrics of several distributors in one query over their subtrees."""
    if not ids:
        return {}
    member = aliased(Distributor)
    rows = await session.execute(
        select(Distributor.id, Distributor.personal_sales_fen, Distributor.personal_order_count,
               func.count(member.id), func.sum(member.personal_sales_fen), func.sum(member.personal_order_count),
               func.sum(case((member.parent_id == Distributor.id, 1), else_=0)))
        .join(member, column_in_subtree_of(member.path, Distributor.path))
        .where(Distributor.id.in_(ids))
        .group_by(Distributor.id, Distributor.personal_sales_fen, Distributor.personal_order_count))
    result = {i: Metrics() for i in ids}
    for did, sales, orders, size, team_sales, team_orders, direct in rows.all():
        result[int(did)] = Metrics(personal_sales_fen=int(sales), personal_orders=int(orders),
                                   team_sales_fen=int(team_sales or 0), team_orders=int(team_orders or 0),
                                   direct_members=int(direct or 0), team_size=int(size) - 1)
    return result


def conditions_met(grade: Grade, m: Metrics) -> bool:
    """Whether `m` meets the grade's conditions; a grade without conditions is reached only by staff."""
    pairs = [(grade.min_personal_sales_fen, m.personal_sales_fen), (grade.min_personal_orders, m.personal_orders),
             (grade.min_team_sales_fen, m.team_sales_fen), (grade.min_team_orders, m.team_orders),
             (grade.min_direct_members, m.direct_members), (grade.min_team_size, m.team_size)]
    checks = [have >= need for need, have in pairs if need is not None]
    if not checks:
        return False
    return any(checks) if grade.condition_mode == ConditionMode.ANY else all(checks)


async def evaluate(session: AsyncSession, distributors: list[Distributor]) -> list[GradeChange]:
    """Upgrade every active distributor that meets the next grade's conditions (step by step, so
    several grades may be passed at once). Grades are never lowered automatically."""
    candidates = [d for d in distributors if d.status == DistributorStatus.ACTIVE and d.path]
    if not candidates:
        return []
    grades = await list_grades(session)
    if not grades:
        return []
    by_id = {g.id: g for g in grades}
    figures = await metrics(session, [d.id for d in candidates])
    changes = []
    for distributor in candidates:
        current = by_id.get(distributor.grade_id)
        level = current.level if current else 0
        target = current
        for grade in grades:
            if grade.level <= level:
                continue
            if not conditions_met(grade, figures[distributor.id]):
                break
            target = grade
        if target is not None and target is not current:
            change = GradeChange(distributor_id=distributor.id, from_grade_id=distributor.grade_id,
                                 to_grade_id=target.id, kind=GradeChangeKind.AUTO,
                                 reason=f"met the conditions of {target.name}")
            distributor.grade_id = target.id
            session.add(change)
            changes.append(change)
    await session.flush()
    return changes


async def evaluate_chain(session: AsyncSession, distributor: Distributor) -> list[GradeChange]:
    """Re-evaluate a distributor and all their uplines (their team figures changed)."""
    chain = [distributor, *await ancestors(session, distributor)]
    return await evaluate(session, chain)


async def run_upgrades(session: AsyncSession, batch_size: int = 500) -> int:
    """The scheduled job: evaluate every active distributor, in batches. Returns upgrades made."""
    made = 0
    last_id = 0
    while True:
        batch = list((await session.scalars(
            select(Distributor).where(Distributor.status == DistributorStatus.ACTIVE, Distributor.id > last_id)
            .order_by(Distributor.id).limit(batch_size))).all())
        if not batch:
            return made
        made += len(await evaluate(session, batch))
        last_id = batch[-1].id


async def set_grade(session: AsyncSession, viewer: Viewer, *, distributor_id: int, grade_id: int,
                    reason: str) -> Distributor:
    """Staff override (up or down), with a reason; audited and kept in the grade history."""
    actor_id = viewer.require(Permission.MANAGE_DISTRIBUTORS)
    if not (reason or "").strip():
        raise ServiceError(ErrorCode.REQUIRED, "Say why the grade changes.", "reason")
    distributor = await get_distributor(session, distributor_id, lock=True)
    if distributor.path is None:
        raise ServiceError(ErrorCode.NOT_A_DISTRIBUTOR, "This person has not joined the network.", "distributorId")
    grade = await session.get(Grade, grade_id)
    if grade is None:
        raise ServiceError(ErrorCode.NOT_FOUND, "No grade has this id.", "gradeId")
    if grade.id == distributor.grade_id:
        raise ServiceError(ErrorCode.INVALID, "The distributor already has this grade.", "gradeId")
    before = distributor.grade_id
    distributor.grade_id = grade.id
    session.add(GradeChange(distributor_id=distributor.id, from_grade_id=before, to_grade_id=grade.id,
                            kind=GradeChangeKind.STAFF, reason=reason.strip(), actor_id=actor_id))
    await session.flush()
    await audit.record(session, actor_id=actor_id, action="distributor.grade", subject_type="Distributor",
                       subject_id=distributor.id, reason=reason.strip(),
                       details={"before": before, "after": grade.id})
    return distributor


async def grade_history(session: AsyncSession, viewer: Viewer, *, distributor_id: int | None,
                        first: int | None, after: str | None) -> Page:
    """A distributor reads their own grade history; staff read anyone's."""
    if distributor_id is None:
        distributor = await require_own_distributor(session, viewer)
    else:
        viewer.require_user()
        distributor = await get_distributor(session, distributor_id)
        if distributor.user_id != viewer.user_id and not is_network_staff(viewer):
            raise PermissionDenied("You can only read your own grade history.")
    stmt = select(GradeChange).where(GradeChange.distributor_id == distributor.id)
    return await paginate(session, stmt, [SortKey(GradeChange.id, descending=True)], first=first, after=after)


async def record_completed_order(session: AsyncSession, *, buyer_id: int, distributor_id: int | None,
                                 amount_fen: int, product_ids: list[int]) -> None:
    """A completed order adds to the buyer's purchase figures (read by purchase-threshold
    joining) and to the attributed distributor's sales (read by upgrades)."""
    stats = await session.get(CustomerStats, buyer_id, with_for_update=True)
    if stats is None:
        stats = CustomerStats(user_id=buyer_id, completed_sales_fen=0, completed_orders=0)
        session.add(stats)
    stats.completed_sales_fen += amount_fen
    stats.completed_orders += 1
    have = set((await session.scalars(select(CustomerPurchasedProduct.product_id).where(
        CustomerPurchasedProduct.user_id == buyer_id,
        CustomerPurchasedProduct.product_id.in_(product_ids)))).all())
    for product_id in sorted(set(product_ids) - have):
        session.add(CustomerPurchasedProduct(user_id=buyer_id, product_id=product_id))
    await session.flush()
    if distributor_id is not None:
        distributor = await get_distributor(session, distributor_id, lock=True)
        distributor.personal_sales_fen += amount_fen
        distributor.personal_order_count += 1
        await session.flush()
        await evaluate_chain(session, distributor)


async def record_refund(session: AsyncSession, *, buyer_id: int, distributor_id: int | None, amount_fen: int) -> None:
    """A refund on a completed order takes its amount back out of the buyer's purchase figures and
    the attributed distributor's sales (the order still counts as placed). Grades never go down by
    themselves; staff may lower one with a reason."""
    stats = await session.get(CustomerStats, buyer_id, with_for_update=True)
    if stats is not None:
        stats.completed_sales_fen = max(0, stats.completed_sales_fen - amount_fen)
    if distributor_id is not None:
        distributor = await get_distributor(session, distributor_id, lock=True)
        distributor.personal_sales_fen = max(0, distributor.personal_sales_fen - amount_fen)
    await session.flush()
