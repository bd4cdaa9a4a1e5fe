"""Paid orders per second, each with three tiers of commission, through the services, next to
a baseline that writes the same rows with one hand-written SQL transaction per order.

    uv run python bench/orders.py [--orders 300] [--pg postgresql+asyncpg://postgres@127.0.0.1:5432/postgres]

Both run on a fresh SQLite file and on a scratch PostgreSQL database (created, then dropped).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import text  # noqa: E402

from auth.viewer import Viewer  # noqa: E402
from core.db import create_engine, create_sessionmaker  # noqa: E402
from migrations import upgrade  # noqa: E402
from models.account import User  # noqa: E402
from models.base import utcnow  # noqa: E402
from models.catalog import Product, Sku  # noqa: E402
from models.network import CustomerBinding, Distributor, DistributorStatus, Grade, ShareKind  # noqa: E402
from models.order import Channel  # noqa: E402
from services import network as network_service  # noqa: E402
from services import order as order_service  # noqa: E402
from services.payment import SandboxPaymentProvider  # noqa: E402
from tests.databases import scratch_postgres_database  # noqa: E402

SHIPPING = order_service.Shipping(None, None, None, "bench address", "bench", "13900000000")


async def _arrange(maker) -> tuple[Viewer, int, list[tuple[int, int]]]:
    async with maker() as session:
        program = network_service.default_program()
        program.commission_depth = 3
        session.add(program)
        grade = Grade(name="bench", level=1, tier1_rate_bps=1000, tier2_rate_bps=500, tier3_rate_bps=200)
        users = [User(nickname=f"bench{i}") for i in range(5)]
        session.add_all([grade, *users])
        await session.flush()
        path, parent, chain = "/", None, []
        for user in users[:4]:
            distributor = Distributor(user_id=user.id, status=DistributorStatus.ACTIVE, grade_id=grade.id,
                                      parent_id=parent.id if parent else None, depth=0)
            session.add(distributor)
            await session.flush()
            path = f"{path}{distributor.id}/"
            distributor.path, distributor.depth = path, path.count("/") - 2
            parent = distributor
            chain.append((distributor.id, user.id))
        product = Product(title="bench", on_shelf=True, distributable=True, image_urls=[])
        session.add(product)
        await session.flush()
        sku = Sku(product_id=product.id, code="BENCH", attributes={}, price_fen=9999, stock=10_000_000)
        session.add(sku)
        session.add(CustomerBinding(customer_id=users[4].id, distributor_id=parent.id, source=ShareKind.INVITE_CODE))
        await session.commit()
        # tier 1 is the nearest: reverse the chain to (distributor, user) nearest first
        return Viewer(user_id=users[4].id), sku.id, list(reversed(chain))[:3]


async def _through_services(maker, buyer: Viewer, sku_id: int, count: int) -> float:
    provider = SandboxPaymentProvider("bench")
    started = time.perf_counter()
    for _ in range(count):
        async with maker() as session:
            order = await order_service.place_order(session, buyer, channel=Channel.APP,
                                                    items=[order_service.ItemRequest(sku_id, 1)], shipping=SHIPPING,
                                                    share_token=None, idempotency_key=None)
            await session.commit()
        async with maker() as session:
            await order_service.sandbox_pay(session, buyer, provider, order_id=order.id, outcome="SUCCEED")
            await session.commit()
    return count / (time.perf_counter() - started)


BASELINE_SQL = [
    "UPDATE skus SET stock = stock - 1 WHERE id = :sku AND stock >= 1",
    """INSERT INTO orders (buyer_id, channel, status, attributed_distributor_id, attribution_source, address, recipient,
       recipient_phone, items_total_fen, discount_fen, total_fen, refunded_fen, expires_at, paid_at, created_at)
       VALUES (:buyer, 'APP', 'PAID', :d1, 'BINDING', 'a', 'r', 'p', 9999, 0, 9999, 0, :now, :now, :now)""",
]


async def _baseline(engine, buyer_id: int, sku_id: int, chain: list[tuple[int, int]], count: int) -> float:
    """The same rows, hand-written: stock, order, item, payment, three commission records, three
    ledger entries with their wallet updates, and the outbox events, one transaction per order."""
    is_pg = engine.dialect.name == "postgresql"
    returning = " RETURNING id"
    started = time.perf_counter()
    for n in range(count):
        now = utcnow()
        async with engine.begin() as conn:
            await conn.execute(text(BASELINE_SQL[0]), {"sku": sku_id})
            order_id = (await conn.execute(text(BASELINE_SQL[1] + returning),
                                           {"buyer": buyer_id, "d1": chain[0][0], "now": now if is_pg else now.replace(tzinfo=None)})).scalar()
            item_id = (await conn.execute(text(
                "INSERT INTO order_items (order_id, product_id, sku_id, title, quantity, list_price_fen, unit_price_fen, "
                "discount_fen, paid_fen, refunded_fen, band_shortfall_fen) SELECT :o, product_id, id, 'bench', 1, 9999, "
                "9999, 0, 9999, 0, 0 FROM skus WHERE id = :sku" + returning), {"o": order_id, "sku": sku_id})).scalar()
            await conn.execute(text("INSERT INTO payments (order_id, provider, provider_ref, amount_fen, status, "
                                    "callback_count, created_at) VALUES (:o, 'raw', :ref, 9999, 'SUCCEEDED', 1, :now)"),
                               {"o": order_id, "ref": f"raw-{order_id}", "now": now if is_pg else now.replace(tzinfo=None)})
            for tier, ((distributor_id, user_id), rate) in enumerate(zip(chain, (1000, 500, 200), strict=True), 1):
                amount = 9999 * rate // 10_000
                record_id = (await conn.execute(text(
                    "INSERT INTO commission_records (order_id, order_item_id, beneficiary_user_id, "
                    "beneficiary_distributor_id, kind, tier, rule, rate_bps, quantity, base_fen, gross_fen, capped_fen, "
                    "shortfall_fen, original_amount_fen, amount_fen, status, created_at) VALUES (:o, :i, :u, :d, 'TIER', "
                    ":t, 'GRADE_RATE', :r, 1, 9999, :a, 0, 0, :a, :a, 'FROZEN', :now)" + returning),
                    {"o": order_id, "i": item_id, "u": user_id, "d": distributor_id, "t": tier, "r": rate, "a": amount,
                     "now": now if is_pg else now.replace(tzinfo=None)})).scalar()
                wallet_id = (await conn.execute(text(
                    "UPDATE wallets SET frozen_fen = frozen_fen + :a, credited_fen = credited_fen + :a "
                    "WHERE user_id = :u" + returning), {"a": amount, "u": user_id})).scalar()
                await conn.execute(text(
                    "INSERT INTO ledger_entries (wallet_id, kind, idempotency_key, frozen_delta, available_delta, "
                    "withdrawing_delta, withdrawn_delta, debt_delta, credited_delta, reversed_delta, subject_type, "
                    "subject_id, memo, created_at) VALUES (:w, 'COMMISSION_FROZEN', :k, :a, 0, 0, 0, 0, :a, 0, "
                    "'CommissionRecord', :s, '', :now)"),
                    {"w": wallet_id, "k": f"raw:{record_id}", "a": amount, "s": record_id,
                     "now": now if is_pg else now.replace(tzinfo=None)})
                await conn.execute(text(
                    "INSERT INTO outbox_events (event_type, subject_type, subject_id, audience_user_ids, "
                    "staff_permission, payload, created_at) VALUES ('commission.updated', 'CommissionRecord', :s, "
                    "'[]', 'MANAGE_FINANCE', '{}', :now)"), {"s": record_id, "now": now if is_pg else now.replace(tzinfo=None)})
    return count / (time.perf_counter() - started)


async def _bench(url: str, count: int) -> tuple[float, float]:
    await asyncio.to_thread(upgrade, url)
    engine = create_engine(url)
    maker = create_sessionmaker(engine)
    buyer, sku_id, chain = await _arrange(maker)
    await _through_services(maker, buyer, sku_id, 5)  # warm up; also creates the wallets
    services_rate = await _through_services(maker, buyer, sku_id, count)
    baseline_rate = await _baseline(engine, buyer.user_id, sku_id, chain, count)
    await engine.dispose()
    return services_rate, baseline_rate


async def _bench_postgres(url: str, count: int) -> tuple[float, float]:
    async with scratch_postgres_database(url, "bench_orders") as scratch:
        return await _bench(scratch, count)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=300)
    parser.add_argument("--pg", default="postgresql+asyncpg://postgres@127.0.0.1:5432/postgres",
                        help="a server to create a scratch database on")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        rows.append(("SQLite", *asyncio.run(_bench(f"sqlite+aiosqlite:///{tmp}/bench.db", args.orders))))
    rows.append(("PostgreSQL", *asyncio.run(_bench_postgres(args.pg, args.orders))))
    print(f"{args.orders} paid orders, each with 3 tiers of commission (place + pay, 2 transactions)")
    print(f"{'database':<12}{'services/s':>12}{'raw SQL/s':>12}{'ratio':>8}")
    for name, services_rate, baseline_rate in rows:
        print(f"{name:<12}{services_rate:>12.1f}{baseline_rate:>12.1f}{services_rate / baseline_rate:>8.2f}")


if __name__ == "__main__":
    main()
