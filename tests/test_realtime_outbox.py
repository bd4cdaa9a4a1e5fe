"""The outbox and its relay: events commit with the change, publish in id order once final,
never when rolled back, and resume from the table after the relay was down."""

from __future__ import annotations

import asyncio
import json

import pytest
from sqlalchemy import select

from core.errors import ServiceError
from models.outbox import OutboxEvent
from realtime.outbox import (
    COMMISSION_UPDATED,
    EVENT_TYPES,
    ORDER_UPDATED,
    decode_event_cursor,
    emit,
    encode_event_cursor,
)
from realtime.relay import RelayBusy
from realtime.streams import live_events
from tests.databases import ON_POSTGRES


async def emit_one(state, event_type=ORDER_UPDATED, audience=(1,), subject_id=1, payload=None) -> int:
    async with state.writer_sessionmaker() as session:
        row = await emit(session, event_type=event_type, subject_type="Order", subject_id=subject_id,
                         audience_user_ids=audience, payload=payload or {"n": subject_id})
        await session.commit()
        return row.id


async def drain(subscription, timeout=0.3) -> list[dict]:
    messages = []
    while (message := await subscription.get(timeout)) is not None:
        messages.append(json.loads(message))
    return messages


async def test_emit_writes_in_the_callers_transaction_and_rollback_drops_it(app_state):
    async with app_state.writer_sessionmaker() as session:
        await emit(session, event_type=ORDER_UPDATED, subject_type="Order", subject_id=5,
                   audience_user_ids=[3, 2, 3], payload={"status": "PAID", "amountFen": 1234})
        await session.rollback()
    first = await emit_one(app_state, subject_id=6)
    async with app_state.sessionmaker() as session:
        rows = (await session.scalars(select(OutboxEvent))).all()
    assert [(r.id, r.subject_id, r.published_at) for r in rows] == [(first, 6, None)]
    assert rows[0].staff_permission == "MANAGE_ORDERS" and rows[0].created_at.tzinfo is not None
    with pytest.raises(ValueError, match="unknown event type"):
        async with app_state.writer_sessionmaker() as session:
            await emit(session, event_type="order.exploded", subject_type="Order", subject_id=1,
                       audience_user_ids=[1])


async def test_relay_publishes_final_events_in_id_order_with_the_previous_id(app_state):
    ids = [await emit_one(app_state, subject_id=n, audience=(n, 99)) for n in range(1, 4)]
    async with app_state.broker.subscription("events") as subscription:
        assert await app_state.relay.publish_pending() == 3
        messages = await drain(subscription)
        assert await app_state.relay.publish_pending() == 0  # nothing twice
        assert await drain(subscription, 0.1) == []
    assert [m["id"] for m in messages] == ids
    assert [m["prev"] for m in messages] == [None, ids[0], ids[1]]
    assert messages[0]["audience"] == [1, 99] and messages[0]["payload"] == {"n": 1}
    async with app_state.sessionmaker() as session:
        assert all(r.published_at for r in (await session.scalars(select(OutboxEvent))).all())


async def test_an_uncommitted_event_holds_back_later_ones_until_it_commits(app_state):
    """Ids are the cursor, so nothing may be published past an event still in flight."""
    async with app_state.broker.subscription("events") as subscription:
        slow = app_state.writer_sessionmaker()
        await emit(slow, event_type=ORDER_UPDATED, subject_type="Order", subject_id=1, audience_user_ids=[1])
        if ON_POSTGRES:
            # A later transaction takes a higher id and commits first: it must wait.
            fast_id = await emit_one(app_state, subject_id=2)
            with pytest.raises(RelayBusy):
                await app_state.relay.publish_pending()
        else:
            # SQLite serialises writers: the open one is simply invisible.
            assert await app_state.relay.publish_pending() == 0
        assert await drain(subscription, 0.1) == []
        await slow.commit()
        await slow.close()
        published = await app_state.relay.publish_pending()
        messages = await drain(subscription)
    assert [m["subjectId"] for m in messages] == ([1, 2] if ON_POSTGRES else [1])
    assert published == len(messages)
    if ON_POSTGRES:
        assert messages[1]["id"] == fast_id and messages[1]["prev"] == messages[0]["id"]


async def test_only_one_relay_works_at_a_time_on_postgres(app_state):
    from server.state import AppState

    other = AppState.create(app_state.settings)
    try:
        await emit_one(app_state)
        async with app_state.relay._local_lock:
            pass
        if ON_POSTGRES:
            from sqlalchemy import text

            from realtime.outbox import RELAY_LOCK_KEY

            async with app_state.engine.connect() as conn:
                assert await conn.scalar(text("SELECT pg_try_advisory_lock(:k)"), {"k": RELAY_LOCK_KEY})
                with pytest.raises(RelayBusy):
                    await other.relay.publish_pending()
                await conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": RELAY_LOCK_KEY})
                await conn.commit()
        assert await other.relay.publish_pending() == 1
        assert await app_state.relay.publish_pending() == 0
    finally:
        await other.close()


async def test_cursor_round_trip_and_refusal():
    assert decode_event_cursor(encode_event_cursor(42)) == 42
    for bad in ["", "nope", encode_event_cursor(1)[:-1] + "!", "ZXY6eA"]:
        with pytest.raises(ServiceError) as error:
            decode_event_cursor(bad)
        assert error.value.code.value == "INVALID"


async def test_events_committed_while_the_relay_was_down_are_delivered_in_order_when_it_returns(realtime):
    """The in-process equivalent of a crash: the relay stops, changes keep committing, and the
    restarted relay publishes them all from the table, in order, to live subscribers."""
    state = realtime
    stream = live_events(state.hub, state.sessionmaker, predicate=lambda e: 7 in e.audience_user_ids,
                         event_types=None, after_id=None, expires_at=None)
    first = asyncio.ensure_future(stream.__anext__())
    await asyncio.sleep(0.05)
    await state.relay.stop()
    ids = [await emit_one(state, audience=(7,), subject_id=n) for n in range(3)]
    await asyncio.sleep(0.3)
    assert not first.done()
    state.relay.start()
    got = [await asyncio.wait_for(first, 5)]
    got += [await asyncio.wait_for(stream.__anext__(), 5) for _ in range(2)]
    await stream.aclose()
    assert [e.id for e in got] == ids


async def test_a_subscriber_that_falls_behind_is_ended_with_a_resume_cursor(realtime):
    state = realtime
    state.hub.queue_size = 3
    stream = live_events(state.hub, state.sessionmaker, predicate=lambda e: True, event_types=None,
                         after_id=None, expires_at=None)
    first_id = await emit_one(state)
    first = await asyncio.wait_for(stream.__anext__(), 5)
    assert first.id == first_id
    for n in range(5):  # nobody reads: the queue of 3 overflows
        await emit_one(state, subject_id=n)
    for _ in range(50):
        if all(s.overflowed for s in state.hub.subscribers):
            break
        await asyncio.sleep(0.05)
    with pytest.raises(ServiceError) as error:
        await asyncio.wait_for(stream.__anext__(), 5)
    assert error.value.code.value == "SLOW_SUBSCRIBER"
    assert encode_event_cursor(first_id) in error.value.message
    assert state.hub.subscribers == set()  # its queue is gone


async def test_the_hub_reads_what_it_missed_from_the_table(realtime):
    """A message whose `prev` is newer than the hub's last id makes it read the gap first."""
    state = realtime
    await state.relay.stop()
    stream = live_events(state.hub, state.sessionmaker, predicate=lambda e: True, event_types=None,
                         after_id=None, expires_at=None)
    task = asyncio.ensure_future(stream.__anext__())
    await asyncio.sleep(0.05)
    ids = [await emit_one(state, subject_id=n) for n in range(3)]
    # Publish only the last one by hand, as if the first two were lost on the way.
    async with state.sessionmaker() as session:
        from realtime.outbox import LiveEvent

        last = LiveEvent.from_row(await session.get(OutboxEvent, ids[2]))
    await state.broker.publish("events", last.to_message(prev=ids[1]))
    got = [await asyncio.wait_for(task, 5)] + [await asyncio.wait_for(stream.__anext__(), 5) for _ in range(2)]
    await stream.aclose()
    assert [e.id for e in got] == ids


def test_every_event_type_has_a_graphql_type():
    from schema.realtime import EVENT_CLASSES

    assert set(EVENT_TYPES) == set(EVENT_CLASSES)
    assert COMMISSION_UPDATED in EVENT_TYPES


async def test_concurrent_emitters_reach_a_subscriber_complete_and_in_id_order(realtime):
    """Many transactions emit at once and commit in a different order than their ids; the
    subscriber still gets every committed event exactly once, in id order (rolled-back ones never)."""
    import random

    state = realtime
    stream = live_events(state.hub, state.sessionmaker, predicate=lambda e: True, event_types=None,
                         after_id=None, expires_at=None)
    first = asyncio.ensure_future(stream.__anext__())
    await asyncio.sleep(0.05)
    rng = random.Random(7)
    committed: list[int] = []

    async def writer(w: int) -> None:
        for n in range(5):
            async with state.writer_sessionmaker() as session:
                row = await emit(session, event_type=ORDER_UPDATED, subject_type="Order", subject_id=w * 10 + n,
                                 audience_user_ids=[w])
                await asyncio.sleep(rng.random() * 0.02)  # hold the transaction open a while
                if (w + n) % 7 == 0:
                    await session.rollback()
                    continue
                await session.commit()
                committed.append(row.id)

    await asyncio.gather(*(writer(w) for w in range(12)))
    received = [(await asyncio.wait_for(first, 10)).id]
    while len(received) < len(committed):
        received.append((await asyncio.wait_for(stream.__anext__(), 10)).id)
    await stream.aclose()
    assert received == sorted(committed)
