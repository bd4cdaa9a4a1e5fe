"""Stock: reserved and released by orders, adjusted by staff, every change recorded.

Stock never goes below zero: each change is one conditional UPDATE, so concurrent orders and
adjustments never race.
"""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from auth.viewer import Viewer
from core.errors import ErrorCode, ServiceError
from core.pagination import Page, SortKey, paginate
from models.catalog import Sku, StockAdjustment
from services.catalog.access import require_catalog_staff
from services.catalog.inputs import clean_text
from services.catalog.lookup import get_sku


def _merge_items(items: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: dict[int, int] = defaultdict(int)
    for sku_id, quantity in items:
        if quantity <= 0:
            raise ServiceError(ErrorCode.INVALID, "Quantities are positive.", "items")
        merged[sku_id] += quantity
    # A fixed order, so two orders locking the same SKUs never deadlock.
    return sorted(merged.items())


async def _change_stock(session: AsyncSession, sku_id: int, delta: int) -> int | None:
    """Add `delta` to a SKU's stock unless that would go below zero. Returns the new stock, or
    None when refused or missing."""
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


async def adjust_stock(session: AsyncSession, viewer: Viewer, sku_id: int, *, delta: int, reason: str
                       ) -> StockAdjustment:
    """Staff add or remove stock with a reason."""
    actor_id = require_catalog_staff(viewer)
    if delta == 0:
        raise ServiceError(ErrorCode.INVALID, "The adjustment cannot be zero.", "delta")
    reason = clean_text(reason, "reason", max_length=200)
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
    require_catalog_staff(viewer)
    stmt = select(StockAdjustment).where(StockAdjustment.sku_id == sku_id)
    return await paginate(session, stmt, [SortKey(StockAdjustment.id, descending=True)], first=first, after=after)
