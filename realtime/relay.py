"""The outbox relay: publishes committed outbox events to the broker in id order and marks them
published. It runs in every app process; on PostgreSQL a session advisory lock lets one relay
work at a time (the others find it taken and wait for the next round). When the broker is down
it logs, backs off and tries again; nothing is marked published that was not handed to the
broker, so after a crash or an outage it resumes from the table, in order."""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import select, text, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from models.base import utcnow
from models.outbox import OutboxEvent
from realtime.broker import BROKER_ERRORS
from realtime.outbox import (
    EMIT_LOCK_KEY,
    RELAY_LOCK_KEY,
    LiveEvent,
    add_commit_listener,
    remove_commit_listener,
)

log = logging.getLogger("fenxiao.realtime")

# How long the relay waits for in-flight emitters before it gives up one round (PostgreSQL).
WATERMARK_LOCK_TIMEOUT_MS = 200
MAX_BACKOFF_SECONDS = 5.0


class RelayBusy(Exception):
    """Another process's relay holds the lock, or emitters kept the watermark lock busy."""


class OutboxRelay:
    def __init__(self, engine: AsyncEngine, broker, *, channel: str, interval: float,
                 batch_size: int) -> None:
        self.engine = engine
        self.broker = broker
        self.channel = channel
        self.interval = interval
        self.batch_size = batch_size
        self.is_postgres = engine.dialect.name == "postgresql"
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._local_lock = asyncio.Lock()
        self._stopping = False
        self.broker_down = False
        self.published_total = 0

    # -- lifecycle

    def start(self) -> None:
        if self._task is None:
            self._stopping = False
            add_commit_listener(self.wake)
            self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def stop(self, timeout: float = 5.0) -> None:
        """Stop after the round in progress (so what it published gets marked); cancel it if
        that takes longer than `timeout`."""
        remove_commit_listener(self.wake)
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping = True
        self._wake.set()
        try:
            await asyncio.wait_for(asyncio.shield(task), timeout)
        except asyncio.TimeoutError:
            log.warning("outbox relay: the round in progress did not finish in %ss; cancelling it", timeout)
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass

    def wake(self) -> None:
        """Publish soon: a transaction that emitted has just committed."""
        self._wake.set()

    async def _run(self) -> None:
        backoff = self.interval
        while not self._stopping:
            delay = self.interval
            try:
                published = await self.publish_pending()
                backoff = self.interval
                if published >= self.batch_size:
                    delay = 0  # more may be waiting
            except RelayBusy:
                delay = min(self.interval, 0.05)  # someone else is at it; look again soon
            except BROKER_ERRORS as exc:
                if not self.broker_down:
                    log.warning("outbox relay: broker unreachable, events stay in the outbox: %r", exc)
                self.broker_down = True
                delay = backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
            except (SQLAlchemyError, OSError) as exc:
                log.error("outbox relay: database error, retrying: %r", exc)
                delay = backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
            if delay and not self._stopping:
                try:
                    await asyncio.wait_for(self._wake.wait(), delay)
                except asyncio.TimeoutError:
                    pass
            self._wake.clear()

    # -- one round

    async def publish_pending(self) -> int:
        """Publish every final unpublished event (up to a batch); returns how many."""
        async with self._local_lock:
            if not self.is_postgres:
                async with self.engine.connect() as conn:
                    return await self._publish_batch(conn, watermark=None)
            async with self.engine.connect() as conn:
                got = await conn.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": RELAY_LOCK_KEY})
                await conn.commit()
                if not got:
                    raise RelayBusy()
                try:
                    watermark = await self._watermark(conn)
                    return await self._publish_batch(conn, watermark)
                finally:
                    await self._unlock(conn)

    async def _unlock(self, conn: AsyncConnection) -> None:
        try:
            await conn.rollback()
            await conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": RELAY_LOCK_KEY})
            await conn.commit()
        except (SQLAlchemyError, OSError) as exc:
            # The session lock must not go back to the pool with the connection: drop it.
            log.warning("outbox relay: could not release its lock, dropping the connection: %r", exc)
            await conn.invalidate()

    async def _watermark(self, conn: AsyncConnection) -> int:
        """The highest id below which every event is final (PostgreSQL): read while holding the
        emitters' lock exclusively, i.e. with no emitting transaction in flight."""
        try:
            await conn.execute(text(f"SET LOCAL lock_timeout = '{WATERMARK_LOCK_TIMEOUT_MS}ms'"))
            await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": EMIT_LOCK_KEY})
            watermark = await conn.scalar(text("SELECT coalesce(max(id), 0) FROM outbox_events"))
            await conn.commit()
            return int(watermark)
        except SQLAlchemyError as exc:
            await conn.rollback()
            if "lock timeout" in str(exc).lower() or "lock_timeout" in str(exc).lower():
                raise RelayBusy() from exc
            raise

    async def _publish_batch(self, conn: AsyncConnection, watermark: int | None) -> int:
        query = (select(OutboxEvent).where(OutboxEvent.published_at.is_(None))
                 .order_by(OutboxEvent.id).limit(self.batch_size))
        if watermark is not None:
            query = query.where(OutboxEvent.id <= watermark)
        rows = (await conn.execute(query)).all()
        if not rows:
            await conn.rollback()
            return 0
        prev = await conn.scalar(select(OutboxEvent.id).where(OutboxEvent.published_at.is_not(None))
                                 .order_by(OutboxEvent.id.desc()).limit(1))
        await conn.rollback()
        events = [LiveEvent(id=r.id, event_type=r.event_type, subject_type=r.subject_type,
                            subject_id=r.subject_id, audience_user_ids=frozenset(r.audience_user_ids or ()),
                            staff_permission=r.staff_permission, payload=dict(r.payload or {}),
                            created_at=r.created_at) for r in rows]
        published: list[int] = []
        try:
            for event in events:
                await self.broker.publish(self.channel, event.to_message(prev))
                published.append(event.id)
                prev = event.id
        finally:
            # Mark what reached the broker, even when a later publish failed.
            if published:
                await conn.execute(update(OutboxEvent).where(OutboxEvent.id.in_(published))
                                   .values(published_at=utcnow()))
                await conn.commit()
                self.published_total += len(published)
        if self.broker_down:
            log.warning("outbox relay: broker reachable again; published %d waiting events", len(published))
            self.broker_down = False
        return len(published)

