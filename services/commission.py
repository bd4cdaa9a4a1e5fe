"""The commission engine: who earns what on a paid order item, refunds, settlement.

On payment each item gets records for tiers 1-3 (the attributing distributor, or the buyer
when self-purchase earns, then their uplines), the regional agents of the shipping district,
city and province, and the nearest partner upline. Inactive beneficiaries are skipped and
nobody moves up into their place. The shares are granted in that order and cut so that their
running total never passes the cap (a share of the item's paid amount); the cut is recorded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from auth.permissions import Permission
from auth.viewer import Viewer
from core.compliance import MAX_COMMISSION_TIERS
from core.errors import ErrorCode, ServiceError
from core.pagination import Page, SortKey, paginate
from models.base import utcnow
from models.catalog import CommissionMode
from models.commission import (
    CommissionKind,
    CommissionRecord,
    CommissionRule,
    CommissionSettings,
    CommissionStatus,
    SettlementMode,
    SettlementStatement,
)
from models.network import AgentStatus, Distributor, DistributorStatus, Grade, RegionalAgent
from models.order import Order, OrderItem, OrderStatus
from realtime import outbox
from services import audit, ledger
from services import network as network_service
from services.catalog.distribution import commission_rules


async def get_settings(session: AsyncSession) -> CommissionSettings:
    settings = await session.get(CommissionSettings, 1)
    if settings is None:
        settings = CommissionSettings(id=1, cap_bps=5000, after_sale_days=7, settlement_mode=SettlementMode.AUTOMATIC,
                                      unpaid_expiry_minutes=30, auto_complete_days=10, region_commission=True)
        session.add(settings)
        await session.flush()
    return settings


async def settings_for(session: AsyncSession, viewer: Viewer) -> CommissionSettings:
    """The settings as any signed-in user may read them: the cap and windows that apply to them."""
    viewer.require_user()
    return await get_settings(session)


async def update_settings(session: AsyncSession, viewer: Viewer, changes: dict) -> CommissionSettings:
    actor = viewer.require(Permission.MANAGE_FINANCE)
    settings = await get_settings(session)
    limits = {"cap_bps": (0, 10_000), "after_sale_days": (0, 365), "unpaid_expiry_minutes": (1, 7 * 24 * 60),
              "auto_complete_days": (1, 365)}
    before = {}
    for name, value in changes.items():
        if value is None:
            continue
        if name in limits and not limits[name][0] <= value <= limits[name][1]:
            low, high = limits[name]
            raise ServiceError(ErrorCode.INVALID, f"Must be between {low} and {high}.", _camel(name))
        before[name] = _plain(getattr(settings, name))
        setattr(settings, name, value)
    await session.flush()
    await audit.record(session, actor_id=actor, action="commission.settings", subject_type="CommissionSettings",
                       subject_id=1, details={"before": before, "after": {k: _plain(v) for k, v in changes.items()
                                                                           if v is not None}})
    return settings


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _plain(value):
    return value.value if hasattr(value, "value") else value


@dataclass
class _Share:
    distributor: Distributor
    kind: CommissionKind
    tier: int
    rule: CommissionRule
    grade_id: int | None
    rate_bps: int | None
    fixed_per_unit_fen: int | None

    def gross(self, base_fen: int, quantity: int) -> int:
        if self.fixed_per_unit_fen is not None:
            return self.fixed_per_unit_fen * quantity
        return base_fen * (self.rate_bps or 0) // 10_000


def _active(distributor: Distributor | None) -> bool:
    return distributor is not None and distributor.status == DistributorStatus.ACTIVE


async def _upline(session: AsyncSession, order: Order) -> list[Distributor]:
    """The attributing distributor and every upline, nearest first (one primary-key query)."""
    if order.attributed_distributor_id is None:
        return []
    first = await session.get(Distributor, order.attributed_distributor_id)
    return [first] + await network_service.ancestors(session, first) if first is not None else []


def _tier_share(distributor: Distributor, tier: int, grade: Grade | None, product_id: int, rules) -> _Share | None:
    if grade is None:
        return None
    rule = rules.get((product_id, grade.id, tier))
    if rule is not None:
        if rule.mode == CommissionMode.FIXED:
            return _Share(distributor, CommissionKind.TIER, tier, CommissionRule.PRODUCT_FIXED, grade.id, None, rule.value)
        return _Share(distributor, CommissionKind.TIER, tier, CommissionRule.PRODUCT_PERCENT, grade.id, rule.value, None)
    rate = getattr(grade, f"tier{tier}_rate_bps")
    return _Share(distributor, CommissionKind.TIER, tier, CommissionRule.GRADE_RATE, grade.id, rate, None) if rate else None


async def _region_shares(session: AsyncSession, order: Order) -> list[_Share]:
    region_ids = [r for r in (order.district_id, order.city_id, order.province_id) if r is not None]
    if not region_ids:
        return []
    agents = (await session.execute(
        select(RegionalAgent, Distributor).join(Distributor, Distributor.id == RegionalAgent.distributor_id)
        .where(RegionalAgent.region_id.in_(region_ids), RegionalAgent.status == AgentStatus.ACTIVE)
    )).all()
    by_region = {agent.region_id: (agent, distributor) for agent, distributor in agents}
    shares = []
    for region_id in region_ids:  # district, city, province
        if region_id in by_region:
            agent, distributor = by_region[region_id]
            if _active(distributor) and agent.rate_bps:
                shares.append(_Share(distributor, CommissionKind.REGION, 0, CommissionRule.REGION_RATE, None,
                                     agent.rate_bps, None))
    return shares


def _partner_share(upline: list[Distributor], grades: dict[int, Grade]) -> _Share | None:
    """The nearest active partner at or above the attributing distributor."""
    for distributor in upline:
        grade = grades.get(distributor.grade_id)
        if _active(distributor) and grade is not None and grade.is_partner and grade.team_bonus_bps:
            return _Share(distributor, CommissionKind.PARTNER_BONUS, 0, CommissionRule.PARTNER_BONUS, grade.id,
                          grade.team_bonus_bps, None)
    return None


def _grant(shares: list[_Share], base_fen: int, quantity: int, cap_fen: int) -> list[tuple[_Share, int, int]]:
    """(share, gross, granted) in grant order; the running total never passes the cap."""
    granted_total = 0
    result = []
    for share in shares:
        gross = share.gross(base_fen, quantity)
        granted = max(0, min(gross, cap_fen - granted_total))
        granted_total += granted
        result.append((share, gross, granted))
    return result


async def create_for_order(session: AsyncSession, order: Order, items: list[OrderItem]) -> list[CommissionRecord]:
    """Commission records for a just-paid order; frozen in each beneficiary's wallet."""
    settings = await get_settings(session)
    program = await network_service.get_program(session)
    depth = min(program.commission_depth, MAX_COMMISSION_TIERS)
    upline = await _upline(session, order)
    # Tiers 1..depth are the first `depth` of the upline; inactive ones are skipped, not replaced.
    chain = [(tier, d) for tier, d in enumerate(upline[:depth], start=1) if _active(d)]
    grade_ids = {d.grade_id for d in upline if d.grade_id}
    grades = {g.id: g for g in (await session.scalars(select(Grade).where(Grade.id.in_(grade_ids)))).all()} if grade_ids else {}
    rules = await commission_rules(session, sorted({i.product_id for i in items}))
    region_shares = await _region_shares(session, order) if settings.region_commission else []
    partner = _partner_share(upline, grades)
    records: list[CommissionRecord] = []
    for item in items:
        shares = [s for tier, d in chain
                  if (s := _tier_share(d, tier, grades.get(d.grade_id), item.product_id, rules)) is not None]
        shares += region_shares
        if partner is not None:
            shares.append(partner)
        cap_fen = item.paid_fen * settings.cap_bps // 10_000
        shortfall_left = item.band_shortfall_fen
        for share, gross, granted in _grant(shares, item.paid_fen, item.quantity, cap_fen):
            shortfall = 0
            # The distributor whose own discount went below the band floor covers it.
            if shortfall_left and share.kind == CommissionKind.TIER and share.distributor.user_id == order.buyer_id:
                shortfall = min(shortfall_left, granted)
                shortfall_left -= shortfall
            amount = granted - shortfall
            if gross == 0:
                continue
            record = CommissionRecord(
                order_id=order.id, order_item_id=item.id, beneficiary_user_id=share.distributor.user_id,
                beneficiary_distributor_id=share.distributor.id, kind=share.kind, tier=share.tier, rule=share.rule,
                grade_id=share.grade_id, rate_bps=share.rate_bps, fixed_per_unit_fen=share.fixed_per_unit_fen,
                quantity=item.quantity, base_fen=item.paid_fen, gross_fen=gross, capped_fen=gross - granted,
                shortfall_fen=shortfall, original_amount_fen=amount, amount_fen=amount, status=CommissionStatus.FROZEN)
            session.add(record)
            records.append(record)
    await session.flush()
    for record in records:
        if record.amount_fen:
            await ledger.credit_frozen(session, user_id=record.beneficiary_user_id, amount=record.amount_fen,
                                       key=f"commission:{record.id}:frozen", subject_type="CommissionRecord",
                                       subject_id=record.id, memo=f"order {order.id}")
        if record.shortfall_fen:
            await audit.record(session, actor_id=None, action="commission.band_shortfall",
                               subject_type="CommissionRecord", subject_id=record.id,
                               details={"shortfall_fen": record.shortfall_fen, "order_id": order.id})
    await _emit(session, records, "created")
    return records


async def recompute_item(session: AsyncSession, item: OrderItem, refund_id: int) -> list[CommissionRecord]:
    """After a refund: every commission on the item is recomputed on the item's remaining paid
    amount and the difference reversed (from frozen, or clawed back if already settled)."""
    settings = await get_settings(session)
    records = list((await session.scalars(
        select(CommissionRecord).where(CommissionRecord.order_item_id == item.id).order_by(CommissionRecord.id)
        .with_for_update())).all())
    remaining = item.paid_fen - item.refunded_fen
    cap_fen = remaining * settings.cap_bps // 10_000
    shortfall_left = item.band_shortfall_fen * remaining // item.paid_fen if item.paid_fen else 0
    granted_total = 0
    changed: list[CommissionRecord] = []
    for record in _grant_order(records):
        if record.fixed_per_unit_fen is not None:
            gross = record.fixed_per_unit_fen * record.quantity * remaining // record.base_fen if record.base_fen else 0
        else:
            gross = remaining * (record.rate_bps or 0) // 10_000
        granted = max(0, min(gross, cap_fen - granted_total))
        granted_total += granted
        shortfall = min(shortfall_left, granted) if record.shortfall_fen else 0
        shortfall_left -= shortfall
        new_amount = min(record.amount_fen, granted - shortfall)
        delta = record.amount_fen - new_amount
        if delta <= 0:
            continue
        key = f"commission:{record.id}:refund:{refund_id}"
        if record.status == CommissionStatus.SETTLED:
            await ledger.claw_back(session, user_id=record.beneficiary_user_id, amount=delta, key=key,
                                   subject_type="CommissionRecord", subject_id=record.id, memo="refund after settlement")
        else:
            await ledger.reverse_frozen(session, user_id=record.beneficiary_user_id, amount=delta, key=key,
                                        subject_type="CommissionRecord", subject_id=record.id, memo="refund")
        record.amount_fen = new_amount
        if new_amount == 0 and record.status == CommissionStatus.FROZEN:
            record.status = CommissionStatus.REVERSED
        changed.append(record)
    await session.flush()
    await _emit(session, changed, "refunded")
    return records


async def _emit(session: AsyncSession, records: list[CommissionRecord], change: str) -> None:
    for record in records:
        await outbox.emit(session, event_type=outbox.COMMISSION_UPDATED, subject_type="CommissionRecord",
                          subject_id=record.id, audience_user_ids=[record.beneficiary_user_id],
                          payload={"change": change, "status": record.status.value, "amountFen": record.amount_fen,
                                   "orderId": record.order_id, "tier": record.tier, "kind": record.kind.value})


def _grant_order(records: list[CommissionRecord]) -> list[CommissionRecord]:
    order = {CommissionKind.TIER: 0, CommissionKind.REGION: 1, CommissionKind.PARTNER_BONUS: 2}
    return sorted(records, key=lambda r: (order[r.kind], r.tier if r.kind == CommissionKind.TIER else 0, r.id))


async def _settle_records(session: AsyncSession, records: list[CommissionRecord], now: datetime,
                          statement_id: int | None = None) -> int:
    for record in records:
        if record.amount_fen:
            await ledger.settle(session, user_id=record.beneficiary_user_id, amount=record.amount_fen,
                                key=f"commission:{record.id}:settle", subject_type="CommissionRecord",
                                subject_id=record.id, memo="after-sale window closed")
        record.status = CommissionStatus.SETTLED
        record.settled_at = now
        record.statement_id = statement_id
    await session.flush()
    await _emit(session, records, "settled")
    return len(records)


def _due_records_stmt(now: datetime, after_sale_days: int):
    cutoff = now - timedelta(days=after_sale_days)
    return (select(CommissionRecord).join(Order, Order.id == CommissionRecord.order_id)
            .where(CommissionRecord.status == CommissionStatus.FROZEN, CommissionRecord.amount_fen > 0,
                   Order.status == OrderStatus.COMPLETED, Order.completed_at <= cutoff)
            .order_by(CommissionRecord.id))


async def settle_due(session: AsyncSession, now: datetime | None = None, batch_size: int = 500) -> int:
    """The automatic settlement job: settle every frozen record whose window has closed. Safe to
    run in several processes at once: rows are claimed with SKIP LOCKED and the ledger keys
    make a second settlement of the same record impossible."""
    now = now or utcnow()
    settings = await get_settings(session)
    if settings.settlement_mode != SettlementMode.AUTOMATIC:
        return 0
    stmt = _due_records_stmt(now, settings.after_sale_days).limit(batch_size).with_for_update(
        skip_locked=True, of=CommissionRecord)
    records = list((await session.scalars(stmt)).all())
    return await _settle_records(session, records, now)


async def run_periodic_settlement(session: AsyncSession, viewer: Viewer | None, *, period: str,
                                  now: datetime | None = None) -> tuple[int, list[SettlementStatement]]:
    """The periodic batch: settles what is due and writes one statement per beneficiary for the
    period ("YYYY-MM"). Running it again for the same period adds only newly due records.
    Returns how many records it settled and the statements it touched."""
    actor = viewer.require(Permission.MANAGE_FINANCE) if viewer is not None else None
    if len(period) != 7 or period[4] != "-" or not (period[:4] + period[5:]).isdigit() or not 1 <= int(period[5:]) <= 12:
        raise ServiceError(ErrorCode.INVALID, "The period is a month written YYYY-MM.", "period")
    now = now or utcnow()
    settings = await get_settings(session)
    stmt = _due_records_stmt(now, settings.after_sale_days).with_for_update(skip_locked=True, of=CommissionRecord)
    records = list((await session.scalars(stmt)).all())
    by_user: dict[int, list[CommissionRecord]] = {}
    for record in records:
        by_user.setdefault(record.beneficiary_user_id, []).append(record)
    statements = []
    for user_id, user_records in sorted(by_user.items()):
        statement = await session.scalar(select(SettlementStatement).where(
            SettlementStatement.user_id == user_id, SettlementStatement.period == period).with_for_update())
        if statement is None:
            statement = SettlementStatement(user_id=user_id, period=period, record_count=0, total_fen=0)
            session.add(statement)
            await session.flush()
        statement.record_count += len(user_records)
        statement.total_fen += sum(r.amount_fen for r in user_records)
        await _settle_records(session, user_records, now, statement.id)
        statements.append(statement)
    if actor is not None:
        await audit.record(session, actor_id=actor, action="settlement.run", subject_type="SettlementStatement",
                           subject_id=0, details={"period": period, "records": len(records)})
    return len(records), statements


def _records_visible_to(viewer: Viewer):
    """Commission records the viewer may see: their own; everyone's for MANAGE_FINANCE."""
    stmt = select(CommissionRecord)
    if not viewer.has(Permission.MANAGE_FINANCE):
        stmt = stmt.where(CommissionRecord.beneficiary_user_id == viewer.user_id)
    return stmt


async def visible_records(session: AsyncSession, viewer: Viewer, ids: list[int]) -> dict[int, CommissionRecord]:
    if viewer.user_id is None:
        return {}
    stmt = _records_visible_to(viewer).where(CommissionRecord.id.in_(ids))
    return {r.id: r for r in await session.scalars(stmt)}


async def list_records(session: AsyncSession, viewer: Viewer, *, status: CommissionStatus | None,
                       order_id: int | None, first: int | None, after: str | None) -> Page:
    """Your own commission records; finance staff see everyone's (filtered by order)."""
    viewer.require_user()
    stmt = _records_visible_to(viewer)
    if status is not None:
        stmt = stmt.where(CommissionRecord.status == status)
    if order_id is not None:
        stmt = stmt.where(CommissionRecord.order_id == order_id)
    return await paginate(session, stmt, [SortKey(CommissionRecord.id, descending=True)], first=first, after=after)


async def list_statements(session: AsyncSession, viewer: Viewer, *, first: int | None, after: str | None) -> Page:
    user_id = viewer.require_user()
    stmt = select(SettlementStatement)
    if not viewer.has(Permission.MANAGE_FINANCE):
        stmt = stmt.where(SettlementStatement.user_id == user_id)
    return await paginate(session, stmt, [SortKey(SettlementStatement.id, descending=True)], first=first, after=after)
