"""Stock reservation for orders: atomic, never below zero, safe under concurrency (SQLite and
PostgreSQL), with an adjustment row for every change."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from core.errors import ErrorCode, ServiceError
from core.ids import decode_global_id
from models.catalog import Sku, StockAdjustment
from services import catalog as catalog_service
from tests.factories import back_office, create_product


async def _sku(client, app_state, code: str, stock: int) -> int:
    """A SKU created by staff through the API; returns its primary key for the stock service."""
    product = await create_product(client, await back_office(client, app_state), code,
                                   skus=[{"code": code, "price": "10.00", "stock": stock}])
    return decode_global_id(product["skus"][0]["id"])[1]


async def test_concurrent_reservations_never_oversell(client, app_state):
    sku_id = await _sku(client, app_state, "HOT", 10)

    async def buy(order_id: int) -> bool:
        async with app_state.writer_sessionmaker() as session:
            try:
                await catalog_service.reserve_stock(session, [(sku_id, 1)], order_id=order_id, reason="order")
            except ServiceError as error:
                assert error.code == ErrorCode.OUT_OF_STOCK
                await session.rollback()
                return False
            await session.commit()
            return True

    results = await asyncio.gather(*(buy(i) for i in range(1, 31)))
    assert results.count(True) == 10
    async with app_state.sessionmaker() as session:
        assert await session.scalar(select(Sku.stock).where(Sku.id == sku_id)) == 0
        initial, *rows = (await session.scalars(select(StockAdjustment).where(StockAdjustment.sku_id == sku_id)
                                                .order_by(StockAdjustment.id))).all()
        assert (initial.delta, initial.stock_after, initial.order_id) == (10, 10, None)  # the stock it was created with
        assert len(rows) == 10
        assert sorted(r.stock_after for r in rows) == list(range(10))
        assert {r.delta for r in rows} == {-1} and all(r.order_id for r in rows)


async def test_reservation_is_all_or_nothing_and_release_returns_stock(client, app_state):
    plenty = await _sku(client, app_state, "PLENTY", 5)
    scarce = await _sku(client, app_state, "SCARCE", 1)
    async with app_state.writer_sessionmaker() as session:
        savepoint = await session.begin_nested()
        try:
            await catalog_service.reserve_stock(session, [(plenty, 2), (scarce, 1), (scarce, 1)], order_id=7,
                                                reason="order 7")
        except ServiceError as error:
            assert error.code == ErrorCode.OUT_OF_STOCK
            assert "SCARCE" in error.message and "2 wanted" in error.message
            await savepoint.rollback()
        else:
            raise AssertionError("the reservation should have been refused")
        assert await session.scalar(select(Sku.stock).where(Sku.id == plenty)) == 5
        adjustments = await catalog_service.reserve_stock(session, [(plenty, 2), (scarce, 1)], order_id=8,
                                                          reason="order 8")
        assert [(a.sku_id, a.delta, a.stock_after) for a in adjustments] == [(plenty, -2, 3), (scarce, -1, 0)]
        released = await catalog_service.release_stock(session, [(plenty, 2)], order_id=8, reason="cancelled")
        assert [(a.delta, a.stock_after) for a in released] == [(2, 5)]
        for bad in ([(plenty, 0)], [(10_000, 1)]):
            try:
                await catalog_service.reserve_stock(session, bad, order_id=9, reason="x")
            except ServiceError as error:
                assert error.code in (ErrorCode.INVALID, ErrorCode.NOT_FOUND)
            else:
                raise AssertionError(f"{bad} should have been refused")
        await session.commit()
    async with app_state.sessionmaker() as session:
        count = await session.scalar(select(func.count()).select_from(StockAdjustment)
                                     .where(StockAdjustment.order_id.is_not(None)))
        assert count == 3
        assert await session.scalar(select(Sku.stock).where(Sku.id == scarce)) == 0
