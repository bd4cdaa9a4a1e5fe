"""Price bands (价格带) and distributors' resale prices.

A band is the supplier's minimum and maximum resale price for a SKU; an active distributor may
set their own price inside it. A distributor's price is used only while it lies inside the band;
a band change that leaves it outside strands it (the band change succeeds and lists it) until
the distributor fixes it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from auth.viewer import Viewer
from core.errors import ErrorCode, ServiceError
from core.money import format_money
from core.pagination import Page, SortKey, paginate
from models.base import utcnow
from models.catalog import DistributorSkuPrice, Sku
from services import audit
from services import network as network_service
from services.catalog.access import require_catalog_staff
from services.catalog.distribution import require_distributable
from services.catalog.lookup import get_sku


def check_band(band_min: int | None, band_max: int | None, field_prefix: str = "") -> None:
    """Both ends or neither, not negative, minimum not above maximum."""
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


def in_band(price_fen: int, sku: Sku) -> bool:
    return (sku.band_min_fen is not None and sku.band_max_fen is not None
            and sku.band_min_fen <= price_fen <= sku.band_max_fen)


def outside_band():
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
    actor_id = require_catalog_staff(viewer)
    check_band(band_min, band_max)
    sku = await get_sku(session, sku_id, lock=True)
    before = [sku.band_min_fen, sku.band_max_fen]
    sku.band_min_fen, sku.band_max_fen = band_min, band_max
    await session.flush()
    stranded = list((await session.scalars(
        select(DistributorSkuPrice).join(Sku, Sku.id == DistributorSkuPrice.sku_id)
        .where(DistributorSkuPrice.sku_id == sku.id, outside_band()).order_by(DistributorSkuPrice.id))).all())
    await audit.record(session, actor_id=actor_id, action="catalog.sku.band", subject_type="Sku", subject_id=sku.id,
                       details={"before": before, "after": [band_min, band_max],
                                "stranded": [p.id for p in stranded]})
    return BandChange(sku=sku, stranded=stranded)


async def stranded_prices(session: AsyncSession, viewer: Viewer, *, first: int | None, after: str | None) -> Page:
    """Distributor prices outside their SKU's current band, for staff to follow up."""
    require_catalog_staff(viewer)
    stmt = (select(DistributorSkuPrice).join(Sku, Sku.id == DistributorSkuPrice.sku_id).where(outside_band()))
    return await paginate(session, stmt, [SortKey(DistributorSkuPrice.id)], first=first, after=after)


async def set_distributor_price(session: AsyncSession, viewer: Viewer, sku_id: int, price_fen: int
                                ) -> DistributorSkuPrice:
    """An active distributor sets their resale price for a SKU, inside its band."""
    distributor = await network_service.require_own_distributor(session, viewer, active=True)
    # Lock the SKU so a concurrent band change and this price are checked one after the other.
    sku = await get_sku(session, sku_id, lock=True)
    await require_distributable(session, distributor, sku)
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
