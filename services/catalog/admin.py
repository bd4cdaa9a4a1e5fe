"""Staff editing of the catalog (MANAGE_CATALOG): suppliers, categories, products and SKUs.

Stock and price bands change through their own operations (services.catalog.stock and
services.catalog.bands), so each keeps its own record and checks.
"""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from auth.viewer import Viewer
from core.errors import ErrorCode, ServiceError
from core.pagination import Page, SortKey, paginate
from models.base import utcnow
from models.catalog import Category, Product, Sku, StockAdjustment, Supplier
from services import audit
from services.catalog.access import require_catalog_staff
from services.catalog.bands import check_band
from services.catalog.inputs import clean_text, require_not_negative
from services.catalog.lookup import get_product, get_sku

MAX_IMAGES = 20
URL_RE = re.compile(r"^https?://\S{1,490}$")
SKU_CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")
PRODUCT_FIELDS = ("title", "description", "supplier_id", "category_id", "image_urls", "on_shelf", "distributable")
SKU_FIELDS = ("code", "attributes", "price_fen", "stock", "band_min_fen", "band_max_fen")


# ---------------------------------------------------------------- suppliers and categories

async def create_supplier(session: AsyncSession, viewer: Viewer, *, name: str, contact: str | None) -> Supplier:
    require_catalog_staff(viewer)
    supplier = Supplier(name=clean_text(name, "name", max_length=80),
                        contact=clean_text(contact, "contact", max_length=80, required=False))
    session.add(supplier)
    await session.flush()
    return supplier


async def update_supplier(session: AsyncSession, viewer: Viewer, supplier_id: int, *, name: str | None,
                          contact: str | None) -> Supplier:
    require_catalog_staff(viewer)
    supplier = await session.get(Supplier, supplier_id)
    if supplier is None:
        raise ServiceError(ErrorCode.NOT_FOUND, "No supplier has this id.", "supplierId")
    if name is not None:
        supplier.name = clean_text(name, "name", max_length=80)
    if contact is not None:
        supplier.contact = clean_text(contact, "contact", max_length=80, required=False)
    await session.flush()
    return supplier


async def list_suppliers(session: AsyncSession, viewer: Viewer, *, first: int | None, after: str | None) -> Page:
    require_catalog_staff(viewer)
    return await paginate(session, select(Supplier), [SortKey(Supplier.id)], first=first, after=after)


async def create_category(session: AsyncSession, viewer: Viewer, *, name: str, parent_id: int | None,
                          sort_order: int) -> Category:
    require_catalog_staff(viewer)
    if parent_id is not None:
        parent = await session.get(Category, parent_id)
        if parent is None:
            raise ServiceError(ErrorCode.NOT_FOUND, "No category has this id.", "parentId")
        if parent.parent_id is not None:
            raise ServiceError(ErrorCode.INVALID, "Categories have two levels: the parent must be top-level.",
                               "parentId")
    category = Category(name=clean_text(name, "name", max_length=40), parent_id=parent_id, sort_order=sort_order)
    session.add(category)
    await session.flush()
    return category


async def update_category(session: AsyncSession, viewer: Viewer, category_id: int, *, name: str | None,
                          sort_order: int | None) -> Category:
    require_catalog_staff(viewer)
    category = await session.get(Category, category_id)
    if category is None:
        raise ServiceError(ErrorCode.NOT_FOUND, "No category has this id.", "categoryId")
    if name is not None:
        category.name = clean_text(name, "name", max_length=40)
    if sort_order is not None:
        category.sort_order = sort_order
    await session.flush()
    return category


async def list_categories(session: AsyncSession) -> list[Category]:
    """Every category, in display order; anyone may browse them."""
    return list((await session.scalars(select(Category).order_by(Category.sort_order, Category.id))).all())


# ---------------------------------------------------------------- products and SKUs

async def _clean_product(session: AsyncSession, values: dict) -> dict:
    unknown = set(values) - set(PRODUCT_FIELDS)
    if unknown:
        raise ValueError(f"unknown product fields {unknown}")
    clean = dict(values)
    if "title" in clean:
        clean["title"] = clean_text(clean["title"], "title", max_length=120)
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
        require_not_negative(clean["price_fen"], prefix + "price")
    if "stock" in clean:
        require_not_negative(clean["stock"], prefix + "stock")
    if "band_min_fen" in clean or "band_max_fen" in clean:
        check_band(clean.get("band_min_fen"), clean.get("band_max_fen"), prefix)
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
    actor_id = require_catalog_staff(viewer)
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


async def update_product(session: AsyncSession, viewer: Viewer, product_id: int, values: dict) -> Product:
    """Edit a product, including putting it on or off shelf."""
    actor_id = require_catalog_staff(viewer)
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
    actor_id = require_catalog_staff(viewer)
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
    actor_id = require_catalog_staff(viewer)
    if {"stock", "band_min_fen", "band_max_fen"} & set(values):
        raise ServiceError(ErrorCode.INVALID, "Change stock with stockAdjust and the band with skuBandUpdate.",
                           "stock" if "stock" in values else "bandMin")
    sku = await get_sku(session, sku_id, lock=True)
    clean = await _clean_sku(session, values, "", sku_id=sku.id)
    before = {k: getattr(sku, k) for k in clean}
    for key, value in clean.items():
        setattr(sku, key, value)
    await session.flush()
    await audit.record(session, actor_id=actor_id, action="catalog.sku.update", subject_type="Sku",
                       subject_id=sku.id, details={"before": before, "after": clean})
    return sku
