"""The catalog: suppliers, categories, products and SKUs, distribution permissions, purchase prices,
commission overrides, price bands (价格带) with distributors' resale prices, stock, CSV export.

Staff with MANAGE_CATALOG edit everything; customers browse on-shelf products; an active
distributor sets resale prices inside a SKU's band and asks what they may distribute and earn.
A distributor's price is used only while it lies inside the band; a band change that leaves it
outside strands it (the band change succeeds and lists it) until the distributor fixes it.

The functions under "for orders" (effective_prices, band_floor, commission_rules,
reserve_stock, release_stock) are what the order engine builds on.
"""

from __future__ import annotations

import csv
import io
import re
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import and_, delete, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from auth.permissions import Permission
from auth.viewer import Viewer
from core.errors import ErrorCode, ServiceError
from core.money import format_money, split_bps
from core.pagination import Page, SortKey, paginate
from models.base import utcnow
from models.catalog import (
    Category,
    CommissionMode,
    DistributorSkuPrice,
    Product,
    ProductCommissionRule,
    ProductGrade,
    ProductRegion,
    Sku,
    SkuGradePrice,
    StockAdjustment,
    Supplier,
)
from models.network import Distributor, DistributorStatus, Grade, Region, ShareLink
from services import audit
from services import network as network_service

MAX_IMAGES = 20
MAX_TIERS = 3
URL_RE = re.compile(r"^https?://\S{1,490}$")
SKU_CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")


def _require(viewer: Viewer) -> int:
    return viewer.require(Permission.MANAGE_CATALOG)


def _text(value: str | None, field_name: str, *, max_length: int, required: bool = True) -> str:
    cleaned = (value or "").strip()
    if required and not cleaned:
        raise ServiceError(ErrorCode.REQUIRED, f"{field_name} is required.", field_name)
    if len(cleaned) > max_length:
        raise ServiceError(ErrorCode.INVALID, f"{field_name} is at most {max_length} characters.", field_name)
    return cleaned


def _not_negative(value: int | None, field_name: str) -> None:
    if value is not None and value < 0:
        raise ServiceError(ErrorCode.INVALID, f"{field_name} cannot be negative.", field_name)


# ---------------------------------------------------------------- suppliers and categories

async def create_supplier(session: AsyncSession, viewer: Viewer, *, name: str, contact: str | None) -> Supplier:
    _require(viewer)
    supplier = Supplier(name=_text(name, "name", max_length=80),
                        contact=_text(contact, "contact", max_length=80, required=False))
    session.add(supplier)
    await session.flush()
    return supplier


async def update_supplier(session: AsyncSession, viewer: Viewer, supplier_id: int, *, name: str | None,
                          contact: str | None) -> Supplier:
    _require(viewer)
    supplier = await session.get(Supplier, supplier_id)
    if supplier is None:
        raise ServiceError(ErrorCode.NOT_FOUND, "No supplier has this id.", "supplierId")
    if name is not None:
        supplier.name = _text(name, "name", max_length=80)
    if contact is not None:
        supplier.contact = _text(contact, "contact", max_length=80, required=False)
    await session.flush()
    return supplier


async def list_suppliers(session: AsyncSession, viewer: Viewer, *, first: int | None, after: str | None) -> Page:
    _require(viewer)
    return await paginate(session, select(Supplier), [SortKey(Supplier.id)], first=first, after=after)


async def suppliers_by_ids(session: AsyncSession, ids: list[int]) -> dict[int, Supplier]:
    return {s.id: s for s in await session.scalars(select(Supplier).where(Supplier.id.in_(ids)))}


async def create_category(session: AsyncSession, viewer: Viewer, *, name: str, parent_id: int | None,
                          sort_order: int) -> Category:
    _require(viewer)
    if parent_id is not None:
        parent = await session.get(Category, parent_id)
        if parent is None:
            raise ServiceError(ErrorCode.NOT_FOUND, "No category has this id.", "parentId")
        if parent.parent_id is not None:
            raise ServiceError(ErrorCode.INVALID, "Categories have two levels: the parent must be top-level.",
                               "parentId")
    category = Category(name=_text(name, "name", max_length=40), parent_id=parent_id, sort_order=sort_order)
    session.add(category)
    await session.flush()
    return category


async def update_category(session: AsyncSession, viewer: Viewer, category_id: int, *, name: str | None,
                          sort_order: int | None) -> Category:
    _require(viewer)
    category = await session.get(Category, category_id)
    if category is None:
        raise ServiceError(ErrorCode.NOT_FOUND, "No category has this id.", "categoryId")
    if name is not None:
        category.name = _text(name, "name", max_length=40)
    if sort_order is not None:
        category.sort_order = sort_order
    await session.flush()
    return category


async def list_categories(session: AsyncSession) -> list[Category]:
    return list((await session.scalars(select(Category).order_by(Category.sort_order, Category.id))).all())


async def categories_by_ids(session: AsyncSession, ids: list[int]) -> dict[int, Category]:
    return {c.id: c for c in await session.scalars(select(Category).where(Category.id.in_(ids)))}


# ---------------------------------------------------------------- products and SKUs

PRODUCT_FIELDS = ("title", "description", "supplier_id", "category_id", "image_urls", "on_shelf", "distributable")
SKU_FIELDS = ("code", "attributes", "price_fen", "stock", "band_min_fen", "band_max_fen")


async def _clean_product(session: AsyncSession, values: dict) -> dict:
    unknown = set(values) - set(PRODUCT_FIELDS)
    if unknown:
        raise ValueError(f"unknown product fields {unknown}")
    clean = dict(values)
    if "title" in clean:
        clean["title"] = _text(clean["title"], "title", max_length=120)
    if "description" in clean:
        clean["description"] = (clean["description"] or "").strip()
    if "image_urls" in clean:
        urls = [u.strip() for u in clean["image_urls"] or []]
        if len(urls) > MAX_IMAGES:
            raise ServiceError(ErrorCode.INVALID, f"At most {MAX_IMAGES} images.", "imageUrls")
        for url in urls:
            if not URL_RE.match(url):
                raise ServiceError(ErrorCode.INVALID, f"{url!r} is not an http(s) URL.", "imageUrls")
        clean["image_urls"] = urls
    if clean.get("supplier_id") is not None and await session.get(Supplier, clean["supplier_id"]) is None:
        raise ServiceError(ErrorCode.NOT_FOUND, "No supplier has this id.", "supplierId")
    if clean.get("category_id") is not None and await session.get(Category, clean["category_id"]) is None:
        raise ServiceError(ErrorCode.NOT_FOUND, "No category has this id.", "categoryId")
    for key in ("on_shelf", "distributable"):
        if key in clean and clean[key] is None:
            raise ServiceError(ErrorCode.REQUIRED, f"{key} cannot be null.", key)
    return clean


def _check_band(band_min: int | None, band_max: int | None, field_prefix: str = "") -> None:
    if (band_min is None) != (band_max is None):
        raise ServiceError(ErrorCode.INVALID_BAND, "Set both ends of the price band, or neither.",
                           field_prefix + ("bandMax" if band_max is None else "bandMin"))
    if band_min is None:
        return
    if band_min < 0 or band_max < 0:
        raise ServiceError(ErrorCode.INVALID_BAND, "A price band cannot be negative.", field_prefix + "bandMin")
    if band_min > band_max:
        raise ServiceError(ErrorCode.INVALID_BAND,
                           f"The band's minimum {format_money(band_min)} exceeds its maximum "
                           f"{format_money(band_max)}.", field_prefix + "bandMin")


async def _clean_sku(session: AsyncSession, values: dict, prefix: str, *, sku_id: int | None = None,
                     taken: set[str] | None = None) -> dict:
    unknown = set(values) - set(SKU_FIELDS)
    if unknown:
        raise ValueError(f"unknown SKU fields {unknown}")
    clean = dict(values)
    if "code" in clean:
        code = (clean["code"] or "").strip()
        if not SKU_CODE_RE.match(code):
            raise ServiceError(ErrorCode.INVALID, "A SKU code is 1-40 letters, digits, '.', '_' or '-'.",
                               prefix + "code")
        stmt = select(Sku.id).where(Sku.code == code)
        if sku_id is not None:
            stmt = stmt.where(Sku.id != sku_id)
        if (taken is not None and code in taken) or await session.scalar(stmt) is not None:
            raise ServiceError(ErrorCode.SKU_CODE_TAKEN, f"SKU code {code} is already used.", prefix + "code")
        if taken is not None:
            taken.add(code)
        clean["code"] = code
    if "attributes" in clean:
        attributes = {}
        for name, value in (clean["attributes"] or {}).items():
            name, value = (name or "").strip(), (value or "").strip()
            if not name or len(name) > 20 or len(value) > 40:
                raise ServiceError(ErrorCode.INVALID, "An attribute has a name (up to 20 characters) and a value "
                                                      "(up to 40).", prefix + "attributes")
            attributes[name] = value
        clean["attributes"] = attributes
    if "price_fen" in clean:
        if clean["price_fen"] is None:
            raise ServiceError(ErrorCode.REQUIRED, "A SKU needs a price.", prefix + "price")
        _not_negative(clean["price_fen"], prefix + "price")
    if "stock" in clean:
        _not_negative(clean["stock"], prefix + "stock")
    if "band_min_fen" in clean or "band_max_fen" in clean:
        _check_band(clean.get("band_min_fen"), clean.get("band_max_fen"), prefix)
    return clean


async def _add_sku(session: AsyncSession, product_id: int, clean: dict, actor_id: int) -> Sku:
    stock = clean.pop("stock", 0) or 0
    sku = Sku(**{"attributes": {}, **clean}, product_id=product_id, stock=stock)
    session.add(sku)
    await session.flush()
    if stock:
        session.add(StockAdjustment(sku_id=sku.id, delta=stock, stock_after=stock, reason="initial stock",
                                    actor_id=actor_id))
    return sku


async def create_product(session: AsyncSession, viewer: Viewer, values: dict, skus: list[dict]) -> Product:
    actor_id = _require(viewer)
    clean = await _clean_product(session, values)
    if "title" not in clean:
        raise ServiceError(ErrorCode.REQUIRED, "title is required.", "title")
    if clean.get("on_shelf") and not skus:
        raise ServiceError(ErrorCode.INVALID, "A product needs at least one SKU to go on shelf.", "onShelf")
    taken: set[str] = set()
    cleaned_skus = []
    for i, sku_values in enumerate(skus):
        prefix = f"skus.{i}."
        for required in ("code", "price_fen"):
            if required not in sku_values:
                raise ServiceError(ErrorCode.REQUIRED, "A SKU needs a code and a price.", prefix + "code")
        cleaned_skus.append(await _clean_sku(session, sku_values, prefix, taken=taken))
    product = Product(**{"description": "", "image_urls": [], "on_shelf": False, "distributable": True, **clean},
                      updated_at=utcnow())
    session.add(product)
    await session.flush()
    for sku_values in cleaned_skus:
        await _add_sku(session, product.id, sku_values, actor_id)
    await audit.record(session, actor_id=actor_id, action="catalog.product.create", subject_type="Product",
                       subject_id=product.id, details={"title": product.title, "skus": len(cleaned_skus)})
    return product


async def get_product(session: AsyncSession, product_id: int, field_name: str = "productId", *,
                      lock: bool = False) -> Product:
    stmt = select(Product).where(Product.id == product_id)
    if lock:
        stmt = stmt.with_for_update()
    product = await session.scalar(stmt)
    if product is None:
        raise ServiceError(ErrorCode.NOT_FOUND, "No product has this id.", field_name)
    return product


async def get_sku(session: AsyncSession, sku_id: int, field_name: str = "skuId", *, lock: bool = False) -> Sku:
    stmt = select(Sku).where(Sku.id == sku_id)
    if lock:
        stmt = stmt.with_for_update()
    sku = await session.scalar(stmt)
    if sku is None:
        raise ServiceError(ErrorCode.NOT_FOUND, "No SKU has this id.", field_name)
    return sku


async def update_product(session: AsyncSession, viewer: Viewer, product_id: int, values: dict) -> Product:
    """Edit a product, including putting it on or off shelf."""
    actor_id = _require(viewer)
    product = await get_product(session, product_id, lock=True)
    clean = await _clean_product(session, values)
    if clean.get("on_shelf") and not product.on_shelf:
        if await session.scalar(select(Sku.id).where(Sku.product_id == product.id).limit(1)) is None:
            raise ServiceError(ErrorCode.INVALID, "A product needs at least one SKU to go on shelf.", "onShelf")
    before = {k: getattr(product, k) for k in clean}
    for key, value in clean.items():
        setattr(product, key, value)
    product.updated_at = utcnow()
    await session.flush()
    await audit.record(session, actor_id=actor_id, action="catalog.product.update", subject_type="Product",
                       subject_id=product.id, details={"before": before, "after": clean})
    return product


async def create_sku(session: AsyncSession, viewer: Viewer, product_id: int, values: dict) -> Sku:
    actor_id = _require(viewer)
    product = await get_product(session, product_id)
    for required in ("code", "price_fen"):
        if required not in values:
            raise ServiceError(ErrorCode.REQUIRED, "A SKU needs a code and a price.", "code")
    clean = await _clean_sku(session, values, "")
    sku = await _add_sku(session, product.id, clean, actor_id)
    product.updated_at = utcnow()
    await session.flush()
    return sku


async def update_sku(session: AsyncSession, viewer: Viewer, sku_id: int, values: dict) -> Sku:
    """Edit a SKU's code, attributes or list price (stock and band have their own operations)."""
    actor_id = _require(viewer)
    if {"stock", "band_min_fen", "band_max_fen"} & set(values):
        raise ValueError("stock and band change through adjust_stock and update_band")
    sku = await get_sku(session, sku_id, lock=True)
    clean = await _clean_sku(session, values, "", sku_id=sku.id)
    before = {k: getattr(sku, k) for k in clean}
    for key, value in clean.items():
        setattr(sku, key, value)
    await session.flush()
    await audit.record(session, actor_id=actor_id, action="catalog.sku.update", subject_type="Sku",
                       subject_id=sku.id, details={"before": before, "after": clean})
    return sku


async def skus_by_product_ids(session: AsyncSession, product_ids: list[int]) -> dict[int, list[Sku]]:
    found: dict[int, list[Sku]] = {pid: [] for pid in product_ids}
    for sku in await session.scalars(select(Sku).where(Sku.product_id.in_(product_ids)).order_by(Sku.id)):
        found[sku.product_id].append(sku)
    return found


async def skus_by_ids(session: AsyncSession, ids: list[int]) -> dict[int, Sku]:
    return {s.id: s for s in await session.scalars(select(Sku).where(Sku.id.in_(ids)))}


async def products_by_ids(session: AsyncSession, ids: list[int]) -> dict[int, Product]:
    return {p.id: p for p in await session.scalars(select(Product).where(Product.id.in_(ids)))}


# ---------------------------------------------------------------- browsing

def _category_filter(category_id: int):
    """The category and its sub-categories (categories have two levels)."""
    children = select(Category.id).where(or_(Category.id == category_id, Category.parent_id == category_id))
    return Product.category_id.in_(children)


async def browse_products(session: AsyncSession, viewer: Viewer, *, first: int | None, after: str | None,
                          category_id: int | None = None, search: str | None = None,
                          include_off_shelf: bool = False) -> Page:
    """Products newest first: on-shelf ones for everyone; off-shelf ones too for MANAGE_CATALOG."""
    stmt = select(Product)
    if include_off_shelf:
        _require(viewer)
    else:
        stmt = stmt.where(Product.on_shelf.is_(True))
    if category_id is not None:
        stmt = stmt.where(_category_filter(category_id))
    if search and search.strip():
        stmt = stmt.where(func.lower(Product.title).contains(search.strip().lower(), autoescape=True))
    return await paginate(session, stmt, [SortKey(Product.id, descending=True)], first=first, after=after)


async def visible_products(session: AsyncSession, viewer: Viewer, ids: list[int]) -> dict[int, Product]:
    """Products by id as the viewer may see them: on-shelf ones, or any for MANAGE_CATALOG."""
    stmt = select(Product).where(Product.id.in_(ids))
    if not viewer.has(Permission.MANAGE_CATALOG):
        stmt = stmt.where(Product.on_shelf.is_(True))
    return {p.id: p for p in await session.scalars(stmt)}


async def visible_product(session: AsyncSession, viewer: Viewer, product_id: int) -> Product | None:
    return (await visible_products(session, viewer, [product_id])).get(product_id)


async def visible_sku(session: AsyncSession, viewer: Viewer, sku_id: int) -> Sku | None:
    sku = await session.get(Sku, sku_id)
    if sku is None or await visible_product(session, viewer, sku.product_id) is None:
        return None
    return sku


async def pricing_distributor(session: AsyncSession, viewer: Viewer, via: str | None) -> Distributor | None:
    """The distributor whose prices a shopper sees: the one whose invite code, QR scene or share
    token they arrived with (`via`), else the one they are bound to; only while active."""
    distributor = None
    if via and via.strip():
        token = via.strip()
        distributor = await session.scalar(select(Distributor).where(Distributor.invite_code == token.upper()))
        if distributor is None:
            distributor = await session.scalar(
                select(Distributor).join(ShareLink, ShareLink.distributor_id == Distributor.id)
                .where(ShareLink.token == token))
    if distributor is None and viewer.user_id is not None:
        binding = await network_service.active_binding(session, viewer.user_id)
        if binding is not None:
            distributor = await session.get(Distributor, binding.distributor_id)
    if distributor is None or distributor.status != DistributorStatus.ACTIVE:
        return None
    return distributor


# ---------------------------------------------------------------- distribution permissions

async def _allowed_clause(session: AsyncSession, distributor: Distributor):
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


async def set_distribution(session: AsyncSession, viewer: Viewer, product_id: int, *, distributable: bool,
                           grade_ids: list[int], region_ids: list[int]) -> Product:
    """Whether a product may be distributed, and by which grades and regions (empty: all)."""
    actor_id = _require(viewer)
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
    actor_id = _require(viewer)
    sku = await get_sku(session, sku_id, lock=True)
    grade_ids = [g for g, _ in prices]
    if len(set(grade_ids)) != len(grade_ids):
        raise ServiceError(ErrorCode.INVALID, "Each grade appears once.", "prices")
    known = set((await session.scalars(select(Grade.id).where(Grade.id.in_(grade_ids)))).all())
    for i, (grade_id, price) in enumerate(prices):
        if grade_id not in known:
            raise ServiceError(ErrorCode.NOT_FOUND, "No grade has this id.", f"prices.{i}.gradeId")
        _not_negative(price, f"prices.{i}.price")
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


async def set_commission_rules(session: AsyncSession, viewer: Viewer, product_id: int,
                               rules: list[RuleInput]) -> Product:
    """Replace a product's commission overrides (per grade and tier; tiers 1 to 3 only)."""
    actor_id = _require(viewer)
    product = await get_product(session, product_id, lock=True)
    seen = set()
    known = set((await session.scalars(select(Grade.id).where(Grade.id.in_({r.grade_id for r in rules})))).all())
    for i, rule in enumerate(rules):
        prefix = f"rules.{i}."
        if not 1 <= rule.tier <= MAX_TIERS:
            raise ServiceError(ErrorCode.TIER_LIMIT, f"Commission has at most {MAX_TIERS} tiers (1 to 3).",
                               prefix + "tier")
        if rule.grade_id not in known:
            raise ServiceError(ErrorCode.NOT_FOUND, "No grade has this id.", prefix + "gradeId")
        if (rule.grade_id, rule.tier) in seen:
            raise ServiceError(ErrorCode.INVALID, "Each grade and tier has one rule.", prefix + "tier")
        seen.add((rule.grade_id, rule.tier))
        value_field = prefix + ("rate" if rule.mode == CommissionMode.PERCENT else "fixedAmount")
        if rule.value is None:
            raise ServiceError(ErrorCode.REQUIRED, f"A {rule.mode.value} rule needs its {value_field.split('.')[-1]}.",
                               value_field)
        _not_negative(rule.value, value_field)
        if rule.mode == CommissionMode.PERCENT and rule.value > 10_000:
            raise ServiceError(ErrorCode.INVALID, "A rate is at most 100%.", value_field)
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
    found: dict[int, list[ProductCommissionRule]] = {pid: [] for pid in product_ids}
    stmt = select(ProductCommissionRule).where(ProductCommissionRule.product_id.in_(product_ids))
    if grade_id is not None:
        stmt = stmt.where(ProductCommissionRule.grade_id == grade_id)
    for rule in await session.scalars(stmt.order_by(ProductCommissionRule.grade_id, ProductCommissionRule.tier)):
        found[rule.product_id].append(rule)
    return found


# ---------------------------------------------------------------- price bands and resale prices

def in_band(price_fen: int, sku: Sku) -> bool:
    return (sku.band_min_fen is not None and sku.band_max_fen is not None
            and sku.band_min_fen <= price_fen <= sku.band_max_fen)


def _outside_band():
    """SQL: a distributor price (joined with its SKU) that may not be used."""
    return or_(Sku.band_min_fen.is_(None), Sku.band_max_fen.is_(None),
               DistributorSkuPrice.price_fen < Sku.band_min_fen, DistributorSkuPrice.price_fen > Sku.band_max_fen)


@dataclass
class BandChange:
    sku: Sku
    stranded: list[DistributorSkuPrice] = field(default_factory=list)


async def update_band(session: AsyncSession, viewer: Viewer, sku_id: int, *, band_min: int | None,
                      band_max: int | None) -> BandChange:
    """Set a SKU's price band. Distributor prices that fall outside are listed in the answer (and
    for staff later) and are not used until their distributors fix them."""
    actor_id = _require(viewer)
    _check_band(band_min, band_max)
    sku = await get_sku(session, sku_id, lock=True)
    before = [sku.band_min_fen, sku.band_max_fen]
    sku.band_min_fen, sku.band_max_fen = band_min, band_max
    await session.flush()
    stranded = list((await session.scalars(
        select(DistributorSkuPrice).join(Sku, Sku.id == DistributorSkuPrice.sku_id)
        .where(DistributorSkuPrice.sku_id == sku.id, _outside_band()).order_by(DistributorSkuPrice.id))).all())
    await audit.record(session, actor_id=actor_id, action="catalog.sku.band", subject_type="Sku", subject_id=sku.id,
                       details={"before": before, "after": [band_min, band_max],
                                "stranded": [p.id for p in stranded]})
    return BandChange(sku=sku, stranded=stranded)


async def stranded_prices(session: AsyncSession, viewer: Viewer, *, first: int | None, after: str | None) -> Page:
    """Distributor prices outside their SKU's current band, for staff to follow up."""
    _require(viewer)
    stmt = (select(DistributorSkuPrice).join(Sku, Sku.id == DistributorSkuPrice.sku_id).where(_outside_band()))
    return await paginate(session, stmt, [SortKey(DistributorSkuPrice.id)], first=first, after=after)


async def _require_distributable(session: AsyncSession, distributor: Distributor, sku: Sku) -> None:
    allowed = await session.scalar(select(Product.id).where(Product.id == sku.product_id,
                                                            await _allowed_clause(session, distributor)))
    if allowed is None:
        raise ServiceError(ErrorCode.NOT_DISTRIBUTABLE, "You may not distribute this product.", "skuId")


async def set_distributor_price(session: AsyncSession, viewer: Viewer, sku_id: int, price_fen: int
                                ) -> DistributorSkuPrice:
    """An active distributor sets their resale price for a SKU, inside its band."""
    distributor = await network_service.require_own_distributor(session, viewer, active=True)
    # Lock the SKU so a concurrent band change and this price are checked one after the other.
    sku = await get_sku(session, sku_id, lock=True)
    await _require_distributable(session, distributor, sku)
    if sku.band_min_fen is None or sku.band_max_fen is None:
        raise ServiceError(ErrorCode.NO_PRICE_BAND, "This SKU has no price band; it sells at its list price.",
                           "skuId")
    if not in_band(price_fen, sku):
        raise ServiceError(ErrorCode.PRICE_OUT_OF_BAND,
                           f"Set a price between {format_money(sku.band_min_fen)} and "
                           f"{format_money(sku.band_max_fen)}.", "price")
    row = await session.scalar(select(DistributorSkuPrice).where(
        DistributorSkuPrice.distributor_id == distributor.id, DistributorSkuPrice.sku_id == sku.id))
    if row is None:
        row = DistributorSkuPrice(distributor_id=distributor.id, sku_id=sku.id, price_fen=price_fen,
                                  updated_at=utcnow())
        session.add(row)
    else:
        row.price_fen = price_fen
        row.updated_at = utcnow()
    await session.flush()
    return row


async def clear_distributor_price(session: AsyncSession, viewer: Viewer, sku_id: int) -> bool:
    distributor = await network_service.require_own_distributor(session, viewer)
    result = await session.execute(delete(DistributorSkuPrice).where(
        DistributorSkuPrice.distributor_id == distributor.id, DistributorSkuPrice.sku_id == sku_id))
    if result.rowcount == 0:
        raise ServiceError(ErrorCode.NOT_FOUND, "You have no price for this SKU.", "skuId")
    return True


async def distributor_prices(session: AsyncSession, distributor_id: int, sku_ids: list[int]
                             ) -> dict[int, DistributorSkuPrice]:
    return {p.sku_id: p for p in await session.scalars(select(DistributorSkuPrice).where(
        DistributorSkuPrice.distributor_id == distributor_id, DistributorSkuPrice.sku_id.in_(sku_ids)))}


# ---------------------------------------------------------------- for orders

async def effective_prices(session: AsyncSession, sku_ids: list[int], distributor_id: int | None
                           ) -> dict[int, int]:
    """The price (fen) of each SKU for a shopper attributed to `distributor_id`: the distributor's
    resale price when they are active, may distribute the product and the price is inside the
    band; the SKU's list price otherwise."""
    ids = list(set(sku_ids))
    prices = {sid: price for sid, price in (await session.execute(
        select(Sku.id, Sku.price_fen).where(Sku.id.in_(ids)))).all()}
    if distributor_id is None or not prices:
        return prices
    distributor = await session.get(Distributor, distributor_id)
    if distributor is None or distributor.status != DistributorStatus.ACTIVE:
        return prices
    rows = await session.execute(
        select(DistributorSkuPrice.sku_id, DistributorSkuPrice.price_fen)
        .join(Sku, Sku.id == DistributorSkuPrice.sku_id)
        .join(Product, Product.id == Sku.product_id)
        .where(DistributorSkuPrice.distributor_id == distributor_id, DistributorSkuPrice.sku_id.in_(ids),
               ~_outside_band(), await _allowed_clause(session, distributor)))
    prices.update({sid: price for sid, price in rows.all()})
    return prices


async def band_floor(session: AsyncSession, sku_ids: list[int]) -> dict[int, int | None]:
    """The band minimum of each SKU (None: no band)."""
    return {sid: low for sid, low in (await session.execute(
        select(Sku.id, Sku.band_min_fen).where(Sku.id.in_(list(set(sku_ids)))))).all()}


async def commission_rules(session: AsyncSession, product_ids: list[int]
                           ) -> dict[tuple[int, int, int], ProductCommissionRule]:
    """Product commission overrides keyed by (product_id, grade_id, tier)."""
    rows = await session.scalars(select(ProductCommissionRule).where(
        ProductCommissionRule.product_id.in_(list(set(product_ids)))))
    return {(r.product_id, r.grade_id, r.tier): r for r in rows}


def _merge_items(items: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: dict[int, int] = defaultdict(int)
    for sku_id, quantity in items:
        if quantity <= 0:
            raise ServiceError(ErrorCode.INVALID, "Quantities are positive.", "items")
        merged[sku_id] += quantity
    # A fixed order, so two orders locking the same SKUs never deadlock.
    return sorted(merged.items())


async def _change_stock(session: AsyncSession, sku_id: int, delta: int) -> int | None:
    """Add `delta` to a SKU's stock unless that would go below zero: one conditional UPDATE, so
    concurrent changes never race. Returns the new stock, or None when refused or missing."""
    result = await session.execute(
        update(Sku).where(Sku.id == sku_id, Sku.stock + delta >= 0).values(stock=Sku.stock + delta)
        .returning(Sku.stock).execution_options(synchronize_session=False))
    return result.scalar_one_or_none()


async def _refresh_loaded_skus(session: AsyncSession, sku_ids: list[int]) -> None:
    loaded = [sid for sid in sku_ids if session.identity_map.get(session.identity_key(Sku, sid)) is not None]
    if loaded:
        await session.execute(select(Sku).where(Sku.id.in_(loaded)).execution_options(populate_existing=True))


async def reserve_stock(session: AsyncSession, items: list[tuple[int, int]], order_id: int, reason: str,
                        actor_id: int | None = None) -> list[StockAdjustment]:
    """Take stock for an order: every (sku_id, quantity) or none (OUT_OF_STOCK names the SKU; the
    caller's savepoint or transaction undoes the items already taken)."""
    adjustments = []
    merged = _merge_items(items)
    for sku_id, quantity in merged:
        after = await _change_stock(session, sku_id, -quantity)
        if after is None:
            row = (await session.execute(select(Sku.code, Sku.stock).where(Sku.id == sku_id))).first()
            if row is None:
                raise ServiceError(ErrorCode.NOT_FOUND, f"No SKU has id {sku_id}.", "items")
            raise ServiceError(ErrorCode.OUT_OF_STOCK, f"SKU {row.code} has only {row.stock} in stock "
                                                       f"({quantity} wanted).", "items")
        adjustments.append(StockAdjustment(sku_id=sku_id, delta=-quantity, stock_after=after, reason=reason,
                                           actor_id=actor_id, order_id=order_id))
    session.add_all(adjustments)
    await session.flush()
    await _refresh_loaded_skus(session, [sid for sid, _ in merged])
    return adjustments


async def release_stock(session: AsyncSession, items: list[tuple[int, int]], order_id: int, reason: str,
                        actor_id: int | None = None) -> list[StockAdjustment]:
    """Return an order's stock (cancelled, expired or refunded items)."""
    adjustments = []
    merged = _merge_items(items)
    for sku_id, quantity in merged:
        after = await _change_stock(session, sku_id, quantity)
        if after is None:
            raise ServiceError(ErrorCode.NOT_FOUND, f"No SKU has id {sku_id}.", "items")
        adjustments.append(StockAdjustment(sku_id=sku_id, delta=quantity, stock_after=after, reason=reason,
                                           actor_id=actor_id, order_id=order_id))
    session.add_all(adjustments)
    await session.flush()
    await _refresh_loaded_skus(session, [sid for sid, _ in merged])
    return adjustments


# ---------------------------------------------------------------- stock by staff

async def adjust_stock(session: AsyncSession, viewer: Viewer, sku_id: int, *, delta: int, reason: str
                       ) -> StockAdjustment:
    actor_id = _require(viewer)
    if delta == 0:
        raise ServiceError(ErrorCode.INVALID, "The adjustment cannot be zero.", "delta")
    reason = _text(reason, "reason", max_length=200)
    after = await _change_stock(session, sku_id, delta)
    if after is None:
        sku = await get_sku(session, sku_id)
        raise ServiceError(ErrorCode.OUT_OF_STOCK, f"Stock cannot go below zero: {sku.code} has {sku.stock}.",
                           "delta")
    adjustment = StockAdjustment(sku_id=sku_id, delta=delta, stock_after=after, reason=reason, actor_id=actor_id)
    session.add(adjustment)
    await session.flush()
    await _refresh_loaded_skus(session, [sku_id])
    return adjustment


async def stock_history(session: AsyncSession, viewer: Viewer, sku_id: int, *, first: int | None,
                        after: str | None) -> Page:
    _require(viewer)
    stmt = select(StockAdjustment).where(StockAdjustment.sku_id == sku_id)
    return await paginate(session, stmt, [SortKey(StockAdjustment.id, descending=True)], first=first, after=after)


# ---------------------------------------------------------------- what a distributor may sell and earn

@dataclass
class TierCommission:
    tier: int
    mode: CommissionMode
    value: int               # bps for PERCENT, fen per unit for FIXED
    amount_fen: int          # what one unit sold at `price_fen` earns
    overridden: bool         # the product's own rule rather than the grade's default


@dataclass
class OfferSku:
    sku: Sku
    purchase_price_fen: int | None
    my_price_fen: int | None
    my_price_in_band: bool
    price_fen: int
    commissions: list[TierCommission]


@dataclass
class Offer:
    product: Product
    skus: list[OfferSku]


def _tier_commissions(grade: Grade | None, rules: dict[int, ProductCommissionRule], price_fen: int
                      ) -> list[TierCommission]:
    result = []
    for tier in range(1, MAX_TIERS + 1):
        rule = rules.get(tier)
        if rule is not None:
            mode, value, overridden = rule.mode, rule.value, True
        else:
            mode, value, overridden = CommissionMode.PERCENT, getattr(grade, f"tier{tier}_rate_bps", 0) if grade else 0, False
        amount = split_bps(price_fen, value) if mode == CommissionMode.PERCENT else value
        result.append(TierCommission(tier=tier, mode=mode, value=value, amount_fen=amount, overridden=overridden))
    return result


async def distributable_products(session: AsyncSession, viewer: Viewer, *, first: int | None,
                                 after: str | None) -> tuple[Distributor, Page]:
    """What the signed-in active distributor may distribute, newest first, each SKU with their
    purchase price, their resale price, the price shoppers through them pay and the commission per
    tier at their grade. A fixed number of queries whatever the page size."""
    distributor = await network_service.require_own_distributor(session, viewer, active=True)
    stmt = select(Product).where(await _allowed_clause(session, distributor))
    page = await paginate(session, stmt, [SortKey(Product.id, descending=True)], first=first, after=after)
    product_ids = [p.id for p in page.items]
    skus = await skus_by_product_ids(session, product_ids)
    sku_ids = [s.id for group in skus.values() for s in group]
    grade = await session.get(Grade, distributor.grade_id) if distributor.grade_id is not None else None
    bought = await purchase_prices(session, sku_ids, distributor.grade_id) if grade is not None else {}
    own = await distributor_prices(session, distributor.id, sku_ids)
    rules = await rules_by_product_ids(session, product_ids, distributor.grade_id) if grade is not None else {}
    offers = []
    for product in page.items:
        product_rules = {r.tier: r for r in rules.get(product.id, [])}
        rows = []
        for sku in skus[product.id]:
            mine = own.get(sku.id)
            valid = mine is not None and in_band(mine.price_fen, sku)
            price = mine.price_fen if valid else sku.price_fen
            purchase = bought.get(sku.id) or []
            rows.append(OfferSku(sku=sku, purchase_price_fen=purchase[0].purchase_price_fen if purchase else None,
                                 my_price_fen=mine.price_fen if mine else None, my_price_in_band=valid,
                                 price_fen=price, commissions=_tier_commissions(grade, product_rules, price)))
        offers.append(Offer(product=product, skus=rows))
    return distributor, Page(items=offers, cursors=page.cursors, has_next_page=page.has_next_page,
                             has_previous_page=page.has_previous_page)


# ---------------------------------------------------------------- CSV export

def _rate_text(bps: int) -> str:
    return f"{bps // 100}.{bps % 100:02d}%"


def _rule_text(rule: ProductCommissionRule | None) -> str:
    if rule is None:
        return ""
    return _rate_text(rule.value) if rule.mode == CommissionMode.PERCENT else f"{format_money(rule.value)}/unit"


async def catalog_csv(session: AsyncSession, viewer: Viewer) -> str:
    """The whole catalog, one row per SKU: list price, stock, band, purchase price per grade and
    commission overrides per grade and tier (empty: the grade's default rate)."""
    _require(viewer)
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

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    header = ["product_id", "title", "category", "supplier", "on_shelf", "distributable", "allowed_grades",
              "allowed_regions", "sku_code", "attributes", "list_price", "stock", "band_min", "band_max"]
    header += [f"purchase_price[{g.name}]" for g in grades]
    header += [f"commission[{g.name}][T{t}]" for g in grades for t in range(1, MAX_TIERS + 1)]
    writer.writerow(header)
    for product in products:
        common = [product.id, product.title, categories.get(product.category_id, ""),
                  suppliers.get(product.supplier_id, ""), "yes" if product.on_shelf else "no",
                  "yes" if product.distributable else "no",
                  ";".join(grade_names.get(g, str(g)) for g in allowed_grades[product.id]) or "all",
                  ";".join(str(r) for r in allowed_regions[product.id]) or "all"]
        commission = [_rule_text(rules.get((product.id, g.id, t))) for g in grades for t in range(1, MAX_TIERS + 1)]
        if not skus[product.id]:
            writer.writerow(common + [""] * (6 + len(grades)) + commission)
        for sku in skus[product.id]:
            by_grade = {p.grade_id: p.purchase_price_fen for p in prices[sku.id]}
            writer.writerow(common + [
                sku.code, ";".join(f"{k}={v}" for k, v in sorted(sku.attributes.items())),
                format_money(sku.price_fen), sku.stock,
                "" if sku.band_min_fen is None else format_money(sku.band_min_fen),
                "" if sku.band_max_fen is None else format_money(sku.band_max_fen),
            ] + ["" if g.id not in by_grade else format_money(by_grade[g.id]) for g in grades] + commission)
    return out.getvalue()



async def active_distributors_by_user_ids(session: AsyncSession, user_ids: list[int]) -> dict[int, Distributor]:
    """Users' own distributor records, only those active in the network (they see bands and
    their own grade's purchase prices)."""
    rows = await session.scalars(select(Distributor).where(
        Distributor.user_id.in_(user_ids), Distributor.status == DistributorStatus.ACTIVE,
        Distributor.path.is_not(None)))
    return {d.user_id: d for d in rows}
