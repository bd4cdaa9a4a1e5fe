"""The catalog as a staff export: one row per SKU, rendered by services.export."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from auth.viewer import Viewer
from core.compliance import MAX_COMMISSION_TIERS
from core.money import format_money
from models.catalog import Category, CommissionMode, Product, ProductCommissionRule, Supplier
from models.network import Grade
from services.catalog.access import require_catalog_staff
from services.catalog.distribution import allowed_grade_ids, allowed_region_ids, commission_rules, purchase_prices
from services.catalog.lookup import skus_by_product_ids
from services.export import csv_table

_TIERS = range(1, MAX_COMMISSION_TIERS + 1)


def _rate_text(bps: int) -> str:
    return f"{bps // 100}.{bps % 100:02d}%"


def _rule_text(rule: ProductCommissionRule | None) -> str:
    if rule is None:
        return ""
    return _rate_text(rule.value) if rule.mode == CommissionMode.PERCENT else f"{format_money(rule.value)}/unit"


def _money_or_blank(fen: int | None) -> str:
    return "" if fen is None else format_money(fen)


async def catalog_csv(session: AsyncSession, viewer: Viewer) -> str:
    """The whole catalog, one row per SKU: list price, stock, band, purchase price per grade and
    commission overrides per grade and tier (empty: the grade's default rate). Money in yuan."""
    require_catalog_staff(viewer)
    products = list((await session.scalars(select(Product).order_by(Product.id))).all())
    product_ids = [p.id for p in products]
    skus = await skus_by_product_ids(session, product_ids)
    grades = list((await session.scalars(select(Grade).order_by(Grade.level))).all())
    categories = {c.id: c.name for c in await session.scalars(select(Category))}
    suppliers = {s.id: s.name for s in await session.scalars(select(Supplier))}
    prices = await purchase_prices(session, [s.id for group in skus.values() for s in group])
    rules = await commission_rules(session, product_ids)
    allowed_grades = await allowed_grade_ids(session, product_ids)
    allowed_regions = await allowed_region_ids(session, product_ids)
    grade_names = {g.id: g.name for g in grades}

    header = ["product_id", "title", "category", "supplier", "on_shelf", "distributable", "allowed_grades",
              "allowed_regions", "sku_code", "attributes", "list_price", "stock", "band_min", "band_max"]
    header += [f"purchase_price[{g.name}]" for g in grades]
    header += [f"commission[{g.name}][T{t}]" for g in grades for t in _TIERS]
    rows = []
    for product in products:
        common = [product.id, product.title, categories.get(product.category_id, ""),
                  suppliers.get(product.supplier_id, ""), "yes" if product.on_shelf else "no",
                  "yes" if product.distributable else "no",
                  ";".join(grade_names.get(g, str(g)) for g in allowed_grades[product.id]) or "all",
                  ";".join(str(r) for r in allowed_regions[product.id]) or "all"]
        commission = [_rule_text(rules.get((product.id, g.id, t))) for g in grades for t in _TIERS]
        if not skus[product.id]:
            rows.append(common + [""] * (6 + len(grades)) + commission)
        for sku in skus[product.id]:
            by_grade = {p.grade_id: p.purchase_price_fen for p in prices[sku.id]}
            rows.append(common + [
                sku.code, ";".join(f"{k}={v}" for k, v in sorted(sku.attributes.items())),
                format_money(sku.price_fen), sku.stock, _money_or_blank(sku.band_min_fen),
                _money_or_blank(sku.band_max_fen),
            ] + [_money_or_blank(by_grade.get(g.id)) for g in grades] + commission)
    return csv_table(header, rows)
