"""The prices orders are built on: what a shopper attributed to a distributor pays per SKU, and
the band floor a distributor's discount may not go below without the distributor covering it."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models.catalog import DistributorSkuPrice, Product, Sku
from models.network import Distributor, DistributorStatus
from services.catalog.bands import outside_band
from services.catalog.distribution import allowed_clause


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
               ~outside_band(), await allowed_clause(session, distributor)))
    prices.update({sid: price for sid, price in rows.all()})
    return prices


async def band_floor(session: AsyncSession, sku_ids: list[int]) -> dict[int, int | None]:
    """The band minimum of each SKU (None: no band)."""
    return {sid: low for sid, low in (await session.execute(
        select(Sku.id, Sku.band_min_fen).where(Sku.id.in_(list(set(sku_ids)))))).all()}
