"""Scheduled jobs. Each runs in its own transaction and is safe in several processes at
once: rows are claimed with SKIP LOCKED and every money movement has an idempotency key."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models.base import utcnow
from services import binding, commission, grade, order, region

log = logging.getLogger("fenxiao.jobs")

JOBS: dict[str, Callable[[AsyncSession, datetime], Awaitable[int]]] = {
    "expire_unpaid_orders": lambda s, now: order.expire_unpaid(s, now),
    "complete_shipped_orders": lambda s, now: order.complete_shipped(s, now),
    "settle_commission": lambda s, now: commission.settle_due(s, now),
    "release_expired_bindings": lambda s, now: binding.release_expired(s, now),
    "grade_upgrades": lambda s, _now: grade.run_upgrades(s),
    "end_agent_terms": lambda s, now: region.end_expired_terms(s, now.date()),
}


async def run_all(sessionmaker: async_sessionmaker[AsyncSession], now: datetime | None = None) -> dict[str, int]:
    """Run every job once; a failing job is logged and the others still run."""
    now = now or utcnow()
    done: dict[str, int] = {}
    for name, job in JOBS.items():
        async with sessionmaker() as session:
            try:
                done[name] = await job(session, now)
                await session.commit()
            except Exception:
                await session.rollback()
                log.exception("job failed", extra={"fields": {"job": name}})
                done[name] = -1
    return done
