"""Team-tree benchmark: build a network of distributors (100,000 by default) as a 10-ary tree and
time a subtree count, an ancestors lookup and the move of a ~10,000-member subtree, on SQLite
and (when a URL is given) PostgreSQL.

    uv run python bench/team_tree.py
    uv run python bench/team_tree.py --size 100000 \
        --postgres postgresql+asyncpg://postgres@127.0.0.1:5432/postgres

The PostgreSQL run creates and drops its own scratch database next to the one in the URL.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, insert, select, text  # noqa: E402
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine  # noqa: E402

from migrations import upgrade  # noqa: E402
from models.account import User  # noqa: E402
from models.base import utcnow  # noqa: E402
from models.network import Distributor, DistributorStatus  # noqa: E402
from services import network as network_service  # noqa: E402
from tests.databases import scratch_postgres_database  # noqa: E402

FANOUT = 10
CHUNK = 5000


def _tree(size: int):
    """Rows of a 10-ary tree in breadth-first order: node n (1-based) has parent (n - 2) // 10 + 1."""
    paths = [""] * (size + 1)
    depths = [0] * (size + 1)
    for n in range(1, size + 1):
        parent = (n - 2) // FANOUT + 1 if n > 1 else None
        paths[n] = (paths[parent] if parent else "/") + f"{n}/"
        depths[n] = depths[parent] + 1 if parent else 0
        yield n, parent, paths[n], depths[n]


async def _build(sessionmaker, size: int) -> None:
    now = utcnow()
    async with sessionmaker() as session:
        users, distributors = [], []
        for n, parent, path, depth in _tree(size):
            users.append({"id": n, "phone": f"1{n:010d}", "nickname": f"d{n}", "is_active": True,
                          "is_staff": False, "created_at": now})
            distributors.append({"id": n, "user_id": n, "status": DistributorStatus.ACTIVE.value,
                                 "parent_id": parent, "path": path, "depth": depth, "joined_at": now,
                                 "created_at": now, "status_changed_at": now, "personal_sales_fen": 0,
                                 "personal_order_count": 0})
            if len(users) == CHUNK:
                await session.execute(insert(User.__table__), users)
                await session.execute(insert(Distributor.__table__), distributors)
                users, distributors = [], []
        if users:
            await session.execute(insert(User.__table__), users)
            await session.execute(insert(Distributor.__table__), distributors)
        await session.commit()
        if session.bind.dialect.name == "postgresql":
            await session.execute(text("ANALYZE distributors"))
            await session.commit()


async def _timed(label: str, action):
    start = time.perf_counter()
    result = await action()
    elapsed = (time.perf_counter() - start) * 1000
    print(f"  {label:<44} {elapsed:9.1f} ms   ({result})")
    return result


async def run(url: str, size: int) -> None:
    await asyncio.to_thread(upgrade, url)
    engine = create_async_engine(url)
    sessionmaker = async_sessionmaker(engine, expire_on_commit=False)
    start = time.perf_counter()
    await _build(sessionmaker, size)
    print(f"  built {size:,} distributors in {time.perf_counter() - start:.1f} s")
    async with sessionmaker() as session:
        node2 = await session.get(Distributor, 2)   # a child of the root: ~size/10 below it
        node3 = await session.get(Distributor, 3)
        deepest = await session.scalar(select(Distributor).order_by(Distributor.depth.desc(),
                                                                    Distributor.id.desc()).limit(1))

        async def subtree_count():
            return await session.scalar(select(func.count()).where(
                network_service.in_subtree(Distributor.path, node2.path, include_self=False)))

        async def per_depth():
            counts = await network_service.depth_counts(session, node2)
            return ", ".join(f"{c.depth}:{c.count}" for c in counts)

        async def ancestors():
            chain = await network_service.ancestors(session, deepest)
            return f"{len(chain)} uplines of a depth-{deepest.depth} node"

        async def commission_chain():
            chain = await network_service.ancestors_for_commission(session, deepest.id, 3)
            return [d.id for d in chain]

        moved = await _timed("subtree count (node 2)", subtree_count)
        await _timed("per-depth counts (node 2)", per_depth)
        await _timed("ancestors lookup (deepest node)", ancestors)
        await _timed("ancestors for commission (3 tiers)", commission_chain)

        async def move():
            await network_service.rewrite_subtree(session, node2, node3)
            await session.commit()
            return f"{moved + 1:,} rows re-pathed"

        await _timed("move node 2's subtree under node 3", move)
        after = await session.scalar(select(func.count()).where(
            network_service.in_subtree(Distributor.path, (await session.get(Distributor, 3)).path,
                                       include_self=False)))
        print(f"  node 3's team after the move: {after:,}")
    await engine.dispose()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--postgres", help="a PostgreSQL URL (postgresql+asyncpg://...) to also run on")
    parser.add_argument("--skip-sqlite", action="store_true")
    args = parser.parse_args()
    if not args.skip_sqlite:
        with tempfile.TemporaryDirectory() as tmp:
            print("SQLite")
            await run(f"sqlite+aiosqlite:///{tmp}/bench.db", args.size)
    if args.postgres:
        print("PostgreSQL")
        async with scratch_postgres_database(args.postgres, "bench_tree") as url:
            await run(url, args.size)


if __name__ == "__main__":
    asyncio.run(main())
