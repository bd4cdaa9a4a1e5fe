"""The fan-out hub and the subscription stream.

Each app process holds ONE broker subscription (EventHub). Every event it receives goes, in id
order, to the bounded queue of each local subscriber whose filter accepts it. A subscriber that
lets its queue fill up is ended with a reason and its last cursor (it can resume with `after:`);
memory never grows without bound.

No gap, no duplicate:
- the relay publishes in id order and each message carries `prev`, the id published before it;
  when `prev` is newer than the last id the hub saw, the hub reads the missed events from the
  table first (they are final: the relay publishes only final ids);
- after (re)subscribing, and whenever the channel has been quiet for `sync_interval`, the hub
  reads published events newer than its last id, which covers events published while it was
  not subscribed (a broker outage, a restart);
- a subscriber registers its queue before it replays, and replays exactly the ids up to the hub's
  last id at that moment; everything newer reaches its queue live. Ids at or below the last one
  it yielded are skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Iterable
from datetime import datetime

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.errors import ErrorCode, ServiceError
from models.base import utcnow
from realtime.broker import BROKER_ERRORS
from realtime.outbox import LiveEvent, encode_event_cursor, events_in_range, last_published_id

log = logging.getLogger("fenxiao.realtime")

READ_PAGE = 500
REPLAY_PAGE = 200
READY_TIMEOUT_SECONDS = 10.0
MAX_BACKOFF_SECONDS = 2.0

Predicate = Callable[[LiveEvent], bool]


class SubscriberOverflow(Exception):
    pass


_OVERFLOW = object()


class Subscriber:
    """One live subscription's bounded queue."""

    def __init__(self, predicate: Predicate, maxsize: int, start_id: int) -> None:
        self.predicate = predicate
        self.queue: asyncio.Queue = asyncio.Queue(maxsize)
        # The hub had dispatched everything up to this id when the queue was registered:
        # older events come from the table (replay), newer ones through the queue.
        self.start_id = start_id
        self.overflowed = False

    def offer(self, event: LiveEvent) -> None:
        if self.overflowed or not self.predicate(event):
            return
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.overflowed = True
            while not self.queue.empty():
                self.queue.get_nowait()
            self.queue.put_nowait(_OVERFLOW)

    async def get(self, timeout: float | None) -> LiveEvent | None:
        """The next event, None after `timeout` seconds; raises SubscriberOverflow."""
        try:
            item = await asyncio.wait_for(self.queue.get(), timeout)
        except asyncio.TimeoutError:
            return None
        if item is _OVERFLOW:
            raise SubscriberOverflow()
        return item


class EventHub:
    def __init__(self, broker, sessionmaker: async_sessionmaker[AsyncSession], *, channel: str,
                 queue_size: int, sync_interval: float) -> None:
        self.broker = broker
        self.sessionmaker = sessionmaker
        self.channel = channel
        self.queue_size = queue_size
        self.sync_interval = sync_interval
        self.last_id = 0
        self.connected = False
        self.subscribers: set[Subscriber] = set()
        self._ready = asyncio.Event()
        self._task: asyncio.Task | None = None
        self.delivered_total = 0

    # -- lifecycle

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="event-hub")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
        self.connected = False

    async def wait_ready(self, timeout: float = READY_TIMEOUT_SECONDS) -> None:
        self.start()
        try:
            await asyncio.wait_for(self._ready.wait(), timeout)
        except asyncio.TimeoutError as exc:
            raise ServiceError(ErrorCode.UNAVAILABLE, "Live updates are unavailable right now; "
                                                      "try again shortly.") from exc

    @contextlib.asynccontextmanager
    async def subscribe(self, predicate: Predicate) -> AsyncIterator[Subscriber]:
        await self.wait_ready()
        subscriber = Subscriber(predicate, self.queue_size, self.last_id)
        self.subscribers.add(subscriber)
        try:
            yield subscriber
        finally:
            self.subscribers.discard(subscriber)

    # -- the broker subscription

    async def _run(self) -> None:
        backoff = 0.1
        while not self._ready.is_set():
            try:
                async with self.sessionmaker() as session:
                    self.last_id = await last_published_id(session)
                self._ready.set()
            except (SQLAlchemyError, OSError) as exc:
                log.error("event hub: cannot read the outbox, retrying: %r", exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
        backoff = 0.1
        lost = False
        while True:
            try:
                async with self.broker.subscription(self.channel) as subscription:
                    self.connected = True
                    if lost:
                        log.warning("event hub: broker reachable again, resubscribed to %r", self.channel)
                        lost = False
                    backoff = 0.1
                    await self._sync()
                    while True:
                        message = await subscription.get(self.sync_interval)
                        if message is None:
                            await self._sync()
                        else:
                            await self._handle(message)
            except BROKER_ERRORS as exc:
                self.connected = False
                if not lost:
                    log.warning("event hub: broker unreachable, retrying: %r", exc)
                lost = True
            except SQLAlchemyError as exc:
                self.connected = False
                log.error("event hub: database error, resubscribing: %r", exc)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)

    async def _handle(self, message: str) -> None:
        try:
            event, prev = LiveEvent.from_message(message)
        except (ValueError, KeyError, TypeError) as exc:
            log.error("event hub: dropped a malformed message %.200r: %r", message, exc)
            return
        if event.id <= self.last_id:
            return  # already dispatched (republished after a relay crash, or read from the table)
        if prev is not None and prev > self.last_id:
            await self._read_and_dispatch(self.last_id, event.id, published_only=False)
        self._dispatch(event)

    async def _sync(self) -> None:
        await self._read_and_dispatch(self.last_id, None, published_only=True)

    async def _read_and_dispatch(self, after: int, before: int | None, *, published_only: bool) -> None:
        while True:
            async with self.sessionmaker() as session:
                events = await events_in_range(session, after, before, limit=READ_PAGE,
                                               published_only=published_only)
            for event in events:
                if event.id > self.last_id:
                    self._dispatch(event)
            if len(events) < READ_PAGE:
                return
            after = events[-1].id

    def _dispatch(self, event: LiveEvent) -> None:
        for subscriber in list(self.subscribers):
            subscriber.offer(event)
        self.last_id = event.id
        self.delivered_total += 1


# ------------------------------------------------------------- one subscription's stream


async def live_events(hub: EventHub, sessionmaker: async_sessionmaker[AsyncSession], *,
                      predicate: Predicate, event_types: Iterable[str] | None,
                      after_id: int | None, expires_at: datetime | None) -> AsyncIterator[LiveEvent]:
    """The events `predicate` accepts: first those after `after_id` from the table (when given),
    in id order, then live ones, without gap or duplicate. Ends with ServiceError TOKEN_EXPIRED
    at `expires_at`, or SLOW_SUBSCRIBER when the consumer falls too far behind."""
    if expires_at is not None and expires_at <= utcnow():
        raise _expired()
    types = list(event_types) if event_types is not None else None
    async with hub.subscribe(predicate) as subscriber:
        last = after_id if after_id is not None else subscriber.start_id
        if after_id is not None:
            while last < subscriber.start_id:
                # A short-lived session per page: nothing stays open for the subscription's life.
                async with sessionmaker() as session:
                    page = await events_in_range(session, last, subscriber.start_id + 1,
                                                 limit=REPLAY_PAGE, event_types=types)
                for event in page:
                    last = event.id
                    if predicate(event):
                        yield event
                if len(page) < REPLAY_PAGE:
                    break
        while True:
            timeout = None
            if expires_at is not None:
                timeout = (expires_at - utcnow()).total_seconds()
                if timeout <= 0:
                    raise _expired()
            try:
                event = await subscriber.get(timeout)
            except SubscriberOverflow:
                raise ServiceError(
                    ErrorCode.SLOW_SUBSCRIBER,
                    f"This subscription fell more than {hub.queue_size} events behind and was ended; "
                    f"subscribe again with after: \"{encode_event_cursor(last)}\" to resume.") from None
            if event is None or event.id <= last:
                continue
            last = event.id
            yield event


def _expired() -> ServiceError:
    return ServiceError(ErrorCode.TOKEN_EXPIRED, "The access token has expired; reconnect with a "
                                                 "fresh token and resume with `after`.")


# ------------------------------------------------------------- who may see what


def user_filter(viewer, event_type: str) -> tuple[Predicate, list[str]]:
    """A user's own subscription: events of `event_type` whose audience holds the viewer."""
    user_id = viewer.require_user()

    def accepts(event: LiveEvent) -> bool:
        return event.event_type == event_type and user_id in event.audience_user_ids

    return accepts, [event_type]


def staff_filter(viewer, event_types: Iterable[str] | None) -> tuple[Predicate, list[str]]:
    """The back-office feed: events whose staff permission the viewer holds, optionally only
    `event_types`; asking for a type the viewer may not see is refused."""
    from auth.permissions import Permission
    from core.errors import PermissionDenied
    from realtime.outbox import EVENT_TYPES

    viewer.require_user()
    if not viewer.is_staff:
        raise PermissionDenied("The back-office feed is for staff accounts.")
    allowed = {name for name, permission in EVENT_TYPES.items() if viewer.has(permission)}
    if event_types is None:
        if not allowed:
            raise PermissionDenied("None of the feed's event types is open to your permissions.")
        wanted = allowed
    else:
        wanted = set(event_types)
        if not wanted:
            raise ServiceError(ErrorCode.INVALID, "Ask for at least one event type, or leave `types` out "
                                                  "for all you may see.", "types")
        unknown = sorted(wanted - set(EVENT_TYPES))
        if unknown:
            raise ServiceError(ErrorCode.INVALID, f"Unknown event type {unknown[0]!r}; choose from "
                                                  f"{', '.join(sorted(EVENT_TYPES))}.", "types")
        denied = sorted(wanted - allowed)
        if denied:
            needed = EVENT_TYPES[denied[0]]
            raise PermissionDenied(f"Watching {denied[0]} needs the {needed.value} permission.")
    held = {p.value for p in viewer.permissions if isinstance(p, Permission)}

    def accepts(event: LiveEvent) -> bool:
        return event.event_type in wanted and event.staff_permission in held

    return accepts, sorted(wanted)
