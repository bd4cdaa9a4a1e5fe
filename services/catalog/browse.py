"""Browsing: which products a viewer sees, and whose prices they see them at.

Customers see on-shelf products; staff with MANAGE_CATALOG see every product. A shopper sees
the prices of the distributor they arrived through (invite code, QR scene or share token) or
are bound to, while that distributor is active.
"""

from __future__ import annotations

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from auth.viewer import Viewer
from core.pagination import Page, SortKey, paginate
from models.catalog import Category, Product, Sku
from models.network import Distributor, DistributorStatus, ShareLink
from services import network as network_service
from services.catalog.access import is_catalog_staff, require_catalog_staff


class Priced:
    """A product or SKU seen at one distributor's prices (distributor_id None: list prices)."""

    def __init__(self, obj, distributor_id: int | None) -> None:
        self.obj = obj
        self.distributor_id = distributor_id

    def __getattr__(self, name):
        return getattr(self.obj, name)


class PricedProduct(Priced):
    pass


class PricedSku(Priced):
    pass


def _category_filter(category_id: int):
    """The category and its sub-categories (categories have two levels)."""
    children = select(Category.id).where(or_(Category.id == category_id, Category.parent_id == category_id))
    return Product.category_id.in_(children)


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


async def _pricing_distributor_id(session: AsyncSession, viewer: Viewer, via: str | None) -> int | None:
    distributor = await pricing_distributor(session, viewer, via)
    return distributor.id if distributor else None


async def browse_products(session: AsyncSession, viewer: Viewer, *, first: int | None, after: str | None,
                          category_id: int | None = None, search: str | None = None,
                          include_off_shelf: bool = False, via: str | None = None) -> Page:
    """Products newest first, priced for the viewer: on-shelf ones for everyone; off-shelf ones
    too for MANAGE_CATALOG."""
    stmt = select(Product)
    if include_off_shelf:
        require_catalog_staff(viewer)
    else:
        stmt = stmt.where(Product.on_shelf.is_(True))
    if category_id is not None:
        stmt = stmt.where(_category_filter(category_id))
    if search and search.strip():
        stmt = stmt.where(func.lower(Product.title).contains(search.strip().lower(), autoescape=True))
    page = await paginate(session, stmt, [SortKey(Product.id, descending=True)], first=first, after=after)
    distributor_id = await _pricing_distributor_id(session, viewer, via)
    page.items = [PricedProduct(p, distributor_id) for p in page.items]
    return page


async def visible_products(session: AsyncSession, viewer: Viewer, ids: list[int]) -> dict[int, Product]:
    """Products by id as the viewer may see them: on-shelf ones, or any for MANAGE_CATALOG."""
    stmt = select(Product).where(Product.id.in_(ids))
    if not is_catalog_staff(viewer):
        stmt = stmt.where(Product.on_shelf.is_(True))
    return {p.id: p for p in await session.scalars(stmt)}


async def visible_product(session: AsyncSession, viewer: Viewer, product_id: int) -> Product | None:
    return (await visible_products(session, viewer, [product_id])).get(product_id)


async def visible_sku(session: AsyncSession, viewer: Viewer, sku_id: int) -> Sku | None:
    sku = await session.get(Sku, sku_id)
    if sku is None or await visible_product(session, viewer, sku.product_id) is None:
        return None
    return sku


async def priced_product(session: AsyncSession, viewer: Viewer, product_id: int, via: str | None = None
                         ) -> PricedProduct | None:
    """A product the viewer may see, at the prices they see (None when missing or not theirs)."""
    product = await visible_product(session, viewer, product_id)
    if product is None:
        return None
    return PricedProduct(product, await _pricing_distributor_id(session, viewer, via))


async def priced_sku(session: AsyncSession, viewer: Viewer, sku_id: int, via: str | None = None
                     ) -> PricedSku | None:
    sku = await visible_sku(session, viewer, sku_id)
    if sku is None:
        return None
    return PricedSku(sku, await _pricing_distributor_id(session, viewer, via))
