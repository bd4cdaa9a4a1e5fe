"""Which grades and regions may distribute a product, each grade's purchase price (进货价) per
SKU, and each product's commission overrides per grade and tier."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, delete, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from auth.viewer import Viewer
from core.compliance import MAX_COMMISSION_TIERS
from core.errors import ErrorCode, ServiceError
from models.base import utcnow
from models.catalog import (
    CommissionMode,
    Product,
    ProductCommissionRule,
    ProductGrade,
    ProductRegion,
    Sku,
    SkuGradePrice,
)
from models.network import Distributor, Grade, Region
from services import audit
from services import network as network_service
from services.catalog.access import require_catalog_staff
from services.catalog.inputs import require_not_negative
from services.catalog.lookup import get_product, get_sku


async def allowed_clause(session: AsyncSession, distributor: Distributor):
    """SQL: the product (correlated) is on shelf, distributable, and open to this distributor's
    grade and region (no rows: all; a province or city covers everything under it)."""
    any_grade = ~exists().where(ProductGrade.product_id == Product.id)
    grade_ok = any_grade
    if distributor.grade_id is not None:
        grade_ok = or_(any_grade, exists().where(ProductGrade.product_id == Product.id,
                                                 ProductGrade.grade_id == distributor.grade_id))
    any_region = ~exists().where(ProductRegion.product_id == Product.id)
    region_ok = any_region
    if distributor.region_id is not None:
        path = await session.scalar(select(Region.path).where(Region.id == distributor.region_id))
        covering = network_service.path_ids(path) if path else [distributor.region_id]
        region_ok = or_(any_region, exists().where(ProductRegion.product_id == Product.id,
                                                   ProductRegion.region_id.in_(covering)))
    return and_(Product.on_shelf.is_(True), Product.distributable.is_(True), grade_ok, region_ok)


async def require_distributable(session: AsyncSession, distributor: Distributor, sku: Sku) -> None:
    allowed = await session.scalar(select(Product.id).where(Product.id == sku.product_id,
                                                            await allowed_clause(session, distributor)))
    if allowed is None:
        raise ServiceError(ErrorCode.NOT_DISTRIBUTABLE, "You may not distribute this product.", "skuId")


async def set_distribution(session: AsyncSession, viewer: Viewer, product_id: int, *, distributable: bool,
                           grade_ids: list[int], region_ids: list[int]) -> Product:
    """Whether a product may be distributed, and by which grades and regions (empty: all)."""
    actor_id = require_catalog_staff(viewer)
    product = await get_product(session, product_id, lock=True)
    grade_ids, region_ids = sorted(set(grade_ids)), sorted(set(region_ids))
    known = set((await session.scalars(select(Grade.id).where(Grade.id.in_(grade_ids)))).all())
    if set(grade_ids) - known:
        raise ServiceError(ErrorCode.NOT_FOUND, "No grade has this id.", "gradeIds")
    known = set((await session.scalars(select(Region.id).where(Region.id.in_(region_ids)))).all())
    if set(region_ids) - known:
        raise ServiceError(ErrorCode.NOT_FOUND, f"No region has code {sorted(set(region_ids) - known)[0]}.",
                           "regionCodes")
    before = {"distributable": product.distributable,
              "grades": list((await session.scalars(select(ProductGrade.grade_id)
                                                    .where(ProductGrade.product_id == product.id))).all()),
              "regions": list((await session.scalars(select(ProductRegion.region_id)
                                                     .where(ProductRegion.product_id == product.id))).all())}
    product.distributable = distributable
    product.updated_at = utcnow()
    await session.execute(delete(ProductGrade).where(ProductGrade.product_id == product.id))
    await session.execute(delete(ProductRegion).where(ProductRegion.product_id == product.id))
    session.add_all([ProductGrade(product_id=product.id, grade_id=g) for g in grade_ids])
    session.add_all([ProductRegion(product_id=product.id, region_id=r) for r in region_ids])
    await session.flush()
    await audit.record(session, actor_id=actor_id, action="catalog.product.distribution", subject_type="Product",
                       subject_id=product.id, details={"before": before, "after": {
                           "distributable": distributable, "grades": grade_ids, "regions": region_ids}})
    return product


async def allowed_grade_ids(session: AsyncSession, product_ids: list[int]) -> dict[int, list[int]]:
    found: dict[int, list[int]] = {pid: [] for pid in product_ids}
    rows = await session.execute(select(ProductGrade.product_id, ProductGrade.grade_id)
                                 .where(ProductGrade.product_id.in_(product_ids)).order_by(ProductGrade.grade_id))
    for pid, gid in rows.all():
        found[pid].append(gid)
    return found


async def allowed_region_ids(session: AsyncSession, product_ids: list[int]) -> dict[int, list[int]]:
    found: dict[int, list[int]] = {pid: [] for pid in product_ids}
    rows = await session.execute(select(ProductRegion.product_id, ProductRegion.region_id)
                                 .where(ProductRegion.product_id.in_(product_ids)).order_by(ProductRegion.region_id))
    for pid, rid in rows.all():
        found[pid].append(rid)
    return found


async def set_purchase_prices(session: AsyncSession, viewer: Viewer, sku_id: int,
                              prices: list[tuple[int, int | None]]) -> Sku:
    """Set (or, with None, remove) a SKU's purchase price (进货价) for some grades."""
    actor_id = require_catalog_staff(viewer)
    sku = await get_sku(session, sku_id, lock=True)
    grade_ids = [g for g, _ in prices]
    if len(set(grade_ids)) != len(grade_ids):
        raise ServiceError(ErrorCode.INVALID, "Each grade appears once.", "prices")
    known = set((await session.scalars(select(Grade.id).where(Grade.id.in_(grade_ids)))).all())
    for i, (grade_id, price) in enumerate(prices):
        if grade_id not in known:
            raise ServiceError(ErrorCode.NOT_FOUND, "No grade has this id.", f"prices.{i}.gradeId")
        require_not_negative(price, f"prices.{i}.price")
    existing = {p.grade_id: p for p in await session.scalars(
        select(SkuGradePrice).where(SkuGradePrice.sku_id == sku.id, SkuGradePrice.grade_id.in_(grade_ids)))}
    for grade_id, price in prices:
        row = existing.get(grade_id)
        if price is None:
            if row is not None:
                await session.delete(row)
        elif row is None:
            session.add(SkuGradePrice(sku_id=sku.id, grade_id=grade_id, purchase_price_fen=price))
        else:
            row.purchase_price_fen = price
    await session.flush()
    await audit.record(session, actor_id=actor_id, action="catalog.sku.purchase_prices", subject_type="Sku",
                       subject_id=sku.id, details={"prices": {str(g): p for g, p in prices}})
    return sku


async def purchase_prices(session: AsyncSession, sku_ids: list[int], grade_id: int | None = None
                          ) -> dict[int, list[SkuGradePrice]]:
    """Purchase prices per SKU: every grade's, or one grade's."""
    found: dict[int, list[SkuGradePrice]] = {sid: [] for sid in sku_ids}
    stmt = select(SkuGradePrice).where(SkuGradePrice.sku_id.in_(sku_ids))
    if grade_id is not None:
        stmt = stmt.where(SkuGradePrice.grade_id == grade_id)
    for row in await session.scalars(stmt.order_by(SkuGradePrice.grade_id)):
        found[row.sku_id].append(row)
    return found


@dataclass
class RuleInput:
    grade_id: int
    tier: int
    mode: CommissionMode
    value: int | None


def _check_rules(rules: list[RuleInput], known_grade_ids: set[int]) -> None:
    seen = set()
    for i, rule in enumerate(rules):
        prefix = f"rules.{i}."
        if not 1 <= rule.tier <= MAX_COMMISSION_TIERS:
            raise ServiceError(ErrorCode.TIER_LIMIT, f"Commission has at most {MAX_COMMISSION_TIERS} tiers "
                                                     f"(1 to {MAX_COMMISSION_TIERS}).", prefix + "tier")
        if rule.grade_id not in known_grade_ids:
            raise ServiceError(ErrorCode.NOT_FOUND, "No grade has this id.", prefix + "gradeId")
        if (rule.grade_id, rule.tier) in seen:
            raise ServiceError(ErrorCode.INVALID, "Each grade and tier has one rule.", prefix + "tier")
        seen.add((rule.grade_id, rule.tier))
        value_field = prefix + ("rate" if rule.mode == CommissionMode.PERCENT else "fixedAmount")
        if rule.value is None:
            raise ServiceError(ErrorCode.REQUIRED, f"A {rule.mode.value} rule needs its {value_field.split('.')[-1]}.",
                               value_field)
        require_not_negative(rule.value, value_field)
        if rule.mode == CommissionMode.PERCENT and rule.value > 10_000:
            raise ServiceError(ErrorCode.INVALID, "A rate is at most 100%.", value_field)


async def set_commission_rules(session: AsyncSession, viewer: Viewer, product_id: int,
                               rules: list[RuleInput]) -> Product:
    """Replace a product's commission overrides (per grade and tier, within the tier limit)."""
    actor_id = require_catalog_staff(viewer)
    product = await get_product(session, product_id, lock=True)
    known = set((await session.scalars(select(Grade.id).where(Grade.id.in_({r.grade_id for r in rules})))).all())
    _check_rules(rules, known)
    before = [(r.grade_id, r.tier, r.mode.value, r.value) for r in await session.scalars(
        select(ProductCommissionRule).where(ProductCommissionRule.product_id == product.id))]
    await session.execute(delete(ProductCommissionRule).where(ProductCommissionRule.product_id == product.id))
    session.add_all([ProductCommissionRule(product_id=product.id, grade_id=r.grade_id, tier=r.tier, mode=r.mode,
                                           value=r.value) for r in rules])
    product.updated_at = utcnow()
    await session.flush()
    await audit.record(session, actor_id=actor_id, action="catalog.product.commission", subject_type="Product",
                       subject_id=product.id, details={
                           "before": before, "after": [(r.grade_id, r.tier, r.mode.value, r.value) for r in rules]})
    return product


async def rules_by_product_ids(session: AsyncSession, product_ids: list[int], grade_id: int | None = None
                               ) -> dict[int, list[ProductCommissionRule]]:
    """Commission overrides per product: every grade's, or one grade's."""
    found: dict[int, list[ProductCommissionRule]] = {pid: [] for pid in product_ids}
    stmt = select(ProductCommissionRule).where(ProductCommissionRule.product_id.in_(product_ids))
    if grade_id is not None:
        stmt = stmt.where(ProductCommissionRule.grade_id == grade_id)
    for rule in await session.scalars(stmt.order_by(ProductCommissionRule.grade_id, ProductCommissionRule.tier)):
        found[rule.product_id].append(rule)
    return found


async def commission_rules(session: AsyncSession, product_ids: list[int]
                           ) -> dict[tuple[int, int, int], ProductCommissionRule]:
    """Product commission overrides keyed by (product_id, grade_id, tier)."""
    rows = await session.scalars(select(ProductCommissionRule).where(
        ProductCommissionRule.product_id.in_(list(set(product_ids)))))
    return {(r.product_id, r.grade_id, r.tier): r for r in rows}
