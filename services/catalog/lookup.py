"""Catalog objects by id: one at a time for edits (NOT_FOUND when missing), in batches for loaders."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import ErrorCode, ServiceError
from models.catalog import Category, Product, Sku, Supplier


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


async def suppliers_by_ids(session: AsyncSession, ids: list[int]) -> dict[int, Supplier]:
    return {s.id: s for s in await session.scalars(select(Supplier).where(Supplier.id.in_(ids)))}


async def categories_by_ids(session: AsyncSession, ids: list[int]) -> dict[int, Category]:
    return {c.id: c for c in await session.scalars(select(Category).where(Category.id.in_(ids)))}


async def products_by_ids(session: AsyncSession, ids: list[int]) -> dict[int, Product]:
    return {p.id: p for p in await session.scalars(select(Product).where(Product.id.in_(ids)))}


async def skus_by_ids(session: AsyncSession, ids: list[int]) -> dict[int, Sku]:
    return {s.id: s for s in await session.scalars(select(Sku).where(Sku.id.in_(ids)))}


async def skus_by_product_ids(session: AsyncSession, product_ids: list[int]) -> dict[int, list[Sku]]:
    found: dict[int, list[Sku]] = {pid: [] for pid in product_ids}
    for sku in await session.scalars(select(Sku).where(Sku.product_id.in_(product_ids)).order_by(Sku.id)):
        found[sku.product_id].append(sku)
    return found
