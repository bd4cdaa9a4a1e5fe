"""Subscriptions over WebSocket (both protocols): each viewer sees only what they may, staff see
their permissions' share of the back-office feed, `after:` replays what was missed without gap
or duplicate, and an expired token ends the subscription."""

from __future__ import annotations

import asyncio
import json

import pytest
from httpx_ws import WebSocketDisconnect

from auth.permissions import ClientKind
from auth.tokens import issue_access_token
from core.ids import encode_global_id
from realtime.outbox import COMMISSION_UPDATED, ORDER_UPDATED, WALLET_UPDATED, WITHDRAWAL_UPDATED, emit
from tests.factories import register, staff
from tests.realtime_support import live, wait_for_subscribers

EVENT_FIELDS = "cursor type subjectType subjectId occurredAt data"
ORDERS = f"subscription($after: String) {{ orderUpdated(after: $after) {{ {EVENT_FIELDS} }} }}"
FEED = ("subscription($types: [String!], $after: String) "
        f"{{ staffFeed(types: $types, after: $after) {{ {EVENT_FIELDS} }} }}")


async def emit_one(state, event_type, audience, subject_id=1, subject_type="Order", payload=None) -> int:
    async with state.writer_sessionmaker() as session:
        row = await emit(session, event_type=event_type, subject_type=subject_type, subject_id=subject_id,
                         audience_user_ids=audience, payload=payload if payload is not None else {"n": subject_id})
        await session.commit()
        return row.id


def user_pk(payload) -> int:
    from core.ids import decode_global_id

    return decode_global_id(payload["user"]["id"])[1]


@pytest.mark.parametrize("protocol", ["graphql-transport-ws", "graphql-ws"])
async def test_a_user_receives_their_own_order_events_only(client, realtime, protocol):
    alice, bob = await register(client), await register(client)
    async with live(client, alice["accessToken"], protocol) as sub:
        await sub.subscribe(ORDERS)
        await wait_for_subscribers(realtime, 1)
        await emit_one(realtime, ORDER_UPDATED, [user_pk(bob)], subject_id=1)
        await emit_one(realtime, COMMISSION_UPDATED, [user_pk(alice)], subject_id=2)  # another type
        event_id = await emit_one(realtime, ORDER_UPDATED, [user_pk(alice), user_pk(bob)], subject_id=3,
                                  payload={"status": "PAID", "paidFen": 12345})
        event = await sub.next_event()
        assert event["cursor"] and event["type"] == "order.updated" and event["subjectType"] == "Order"
        assert event["subjectId"] == encode_global_id("Order", 3)
        assert event["data"] == {"status": "PAID", "paidFen": 12345}
        assert event["occurredAt"].endswith("Z")
        from realtime.outbox import decode_event_cursor

        assert decode_event_cursor(event["cursor"]) == event_id
        await sub.nothing()


@pytest.mark.parametrize("field,event_type", [("commissionUpdated", COMMISSION_UPDATED),
                                              ("walletUpdated", WALLET_UPDATED),
                                              ("withdrawalUpdated", WITHDRAWAL_UPDATED)])
async def test_beneficiary_subscriptions(client, realtime, field, event_type):
    alice, bob = await register(client), await register(client)
    async with live(client, alice["accessToken"]) as sub:
        await sub.subscribe(f"subscription {{ {field} {{ type subjectId data }} }}")
        await wait_for_subscribers(realtime, 1)
        await emit_one(realtime, event_type, [user_pk(bob)], subject_id=8, subject_type="Commission")
        await emit_one(realtime, event_type, [user_pk(alice)], subject_id=9, subject_type="Commission",
                       payload={"amountFen": 250})
        event = await sub.next_event()
        assert event == {"type": event_type, "subjectId": encode_global_id("Commission", 9),
                         "data": {"amountFen": 250}}
        await sub.nothing(0.2)


@pytest.mark.parametrize("protocol", ["graphql-transport-ws", "graphql-ws"])
async def test_resuming_with_after_replays_the_missed_events_in_order_then_goes_live(client, realtime, protocol):
    alice, bob = await register(client), await register(client)
    me, other = user_pk(alice), user_pk(bob)
    async with live(client, alice["accessToken"], protocol) as sub:
        await sub.subscribe(ORDERS)
        await wait_for_subscribers(realtime, 1)
        await emit_one(realtime, ORDER_UPDATED, [me], subject_id=1)
        seen = await sub.next_event()
    # Disconnected (the phone slept): changes keep coming, some of them not ours.
    missed = []
    for n in range(2, 8):
        audience = [me] if n % 2 == 0 else [other]
        event_id = await emit_one(realtime, ORDER_UPDATED, audience, subject_id=n)
        if n % 2 == 0:
            missed.append(encode_global_id("Order", n))
    await asyncio.sleep(0.3)  # published meanwhile, nobody listening
    async with live(client, alice["accessToken"], protocol) as sub:
        await sub.subscribe(ORDERS, {"after": seen["cursor"]})
        replayed = [(await sub.next_event())["subjectId"] for _ in missed]
        assert replayed == missed
        await emit_one(realtime, ORDER_UPDATED, [me], subject_id=100)
        assert (await sub.next_event())["subjectId"] == encode_global_id("Order", 100)
        await sub.nothing()
    assert event_id


async def test_replay_and_live_meet_without_gap_or_duplicate(client, realtime):
    """Events committed while the replay is being read arrive exactly once, in order."""
    alice = await register(client)
    me = user_pk(alice)
    first = await emit_one(realtime, ORDER_UPDATED, [me], subject_id=0)
    from realtime.outbox import encode_event_cursor

    for n in range(1, 300):  # more than one replay page
        await emit_one(realtime, ORDER_UPDATED, [me], subject_id=n)
    async with live(client, alice["accessToken"]) as sub:
        await sub.subscribe(ORDERS, {"after": encode_event_cursor(first)})

        async def keep_emitting():
            for n in range(300, 340):
                await emit_one(realtime, ORDER_UPDATED, [me], subject_id=n)

        writer = asyncio.create_task(keep_emitting())
        received = [(await sub.next_event(10))["subjectId"] for _ in range(339)]
        await writer
        assert received == [encode_global_id("Order", n) for n in range(1, 340)]
        await sub.nothing(0.3)


async def test_staff_feed_shows_what_the_permissions_cover(client, app_state, realtime):
    finance = await staff(client, app_state, {"MANAGE_FINANCE"})
    customer = await register(client)
    async with live(client, finance["accessToken"], "graphql-ws") as sub:
        await sub.subscribe(FEED)
        await wait_for_subscribers(realtime, 1)
        await emit_one(realtime, ORDER_UPDATED, [user_pk(customer)], subject_id=1)
        await emit_one(realtime, WITHDRAWAL_UPDATED, [user_pk(customer)], subject_id=2, subject_type="Withdrawal")
        await emit_one(realtime, COMMISSION_UPDATED, [user_pk(customer)], subject_id=3, subject_type="Commission")
        events = [await sub.next_event(), await sub.next_event()]
        assert [(e["type"], e["subjectType"]) for e in events] == [
            ("withdrawal.updated", "Withdrawal"), ("commission.updated", "Commission")]
        await sub.nothing(0.2)
    async with live(client, finance["accessToken"]) as sub:
        await sub.subscribe(FEED, {"types": ["withdrawal.updated"], "after": events[0]["cursor"]})
        await emit_one(realtime, WITHDRAWAL_UPDATED, [], subject_id=4, subject_type="Withdrawal")
        assert (await sub.next_event())["subjectId"] == encode_global_id("Withdrawal", 4)
        await sub.nothing(0.2)


@pytest.mark.parametrize("who,variables,code,message", [
    ("customer", {}, "FORBIDDEN", "for staff"),
    ("finance", {"types": ["order.updated"]}, "FORBIDDEN", "MANAGE_ORDERS"),
    ("finance", {"types": ["order.exploded"]}, "INVALID", "Unknown event type"),
    ("catalog", {}, "FORBIDDEN", "None of the feed"),
    ("finance", {"after": "not-a-cursor"}, "INVALID", "cursor"),
    ("finance", {"types": []}, "INVALID", "at least one"),
])
@pytest.mark.parametrize("protocol", ["graphql-transport-ws", "graphql-ws"])
async def test_asking_for_what_the_viewer_may_not_see_is_refused(client, app_state, realtime, who, variables,
                                                                  code, message, protocol):
    if who == "customer":
        token = (await register(client))["accessToken"]
    else:
        perms = {"MANAGE_FINANCE"} if who == "finance" else {"MANAGE_CATALOG"}
        token = (await staff(client, app_state, perms))["accessToken"]
    async with live(client, token, protocol) as sub:
        await sub.subscribe(FEED, variables)
        refused = await sub.receive()
        assert refused["type"] in ("next", "data")
        error = refused["payload"]["errors"][0]
        assert error["extensions"]["code"] == code and message in error["message"]
        assert (await sub.receive())["type"] == "complete"
    assert realtime.hub.subscribers == set()


async def test_subscribing_before_connection_init_closes_the_socket(client, realtime):
    async with client.websocket("graphql-transport-ws") as ws:
        await ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": ORDERS}})
        with pytest.raises(WebSocketDisconnect) as closed:
            await ws.receive_json(timeout=5)
    assert closed.value.code == 4401


@pytest.mark.parametrize("protocol", ["graphql-transport-ws", "graphql-ws"])
async def test_an_expired_token_ends_the_subscription(client, app_state, realtime, protocol):
    user = await register(client)
    from datetime import timedelta

    from models.base import utcnow

    now = utcnow()
    # A token that expires in about two seconds (exp has whole seconds).
    ttl = 2 if now.microsecond < 500_000 else 3
    async with app_state.sessionmaker() as session:
        from sqlalchemy import select

        from models.account import RefreshToken

        family = (await session.scalars(select(RefreshToken.family_id).where(
            RefreshToken.user_id == user_pk(user)))).first()
    token, expires_at = issue_access_token(app_state.settings.secret_key, user_id=user_pk(user), family_id=family,
                                           client=ClientKind.APP, now=now, ttl_seconds=ttl)
    async with live(client, token, protocol) as sub:
        await sub.subscribe(ORDERS)
        await wait_for_subscribers(realtime, 1)
        await emit_one(realtime, ORDER_UPDATED, [user_pk(user)])
        assert (await sub.next_event())["type"] == "order.updated"
        ended = await sub.receive(timeout=ttl + 3)
        assert utcnow() >= expires_at.replace(microsecond=0) - timedelta(milliseconds=50)  # exp: whole seconds
        error = ended["payload"]["errors"][0]
        assert error["extensions"]["code"] == "TOKEN_EXPIRED" and "expired" in error["message"]
        assert (await sub.receive())["type"] == "complete"
        # A new subscription on the same connection is refused at once.
        await sub.subscribe(ORDERS, op_id="2")
        again = await sub.receive()
        assert again["payload"]["errors"][0]["extensions"]["code"] == "TOKEN_EXPIRED"
    assert realtime.hub.subscribers == set()


async def test_a_subscription_holds_no_database_session_between_events(client, app_state, realtime):
    alice = await register(client)
    checked_out = app_state.engine.pool.checkedout
    async with live(client, alice["accessToken"]) as sub:
        await sub.subscribe(ORDERS)
        await wait_for_subscribers(realtime, 1)
        await emit_one(realtime, ORDER_UPDATED, [user_pk(alice)])
        await sub.next_event()
        await asyncio.sleep(0.1)
        assert checked_out() <= 1  # at most the relay's, mid-round; never the subscription's


async def test_an_unexpected_error_in_a_subscription_is_masked_and_logged(client, realtime, monkeypatch, caplog):
    import resolvers.realtime

    def broken(_event):
        raise RuntimeError("secret detail")

    monkeypatch.setattr(resolvers.realtime, "to_graphql", broken)
    alice = await register(client)
    async with live(client, alice["accessToken"]) as sub:
        await sub.subscribe(ORDERS)
        await wait_for_subscribers(realtime, 1)
        await emit_one(realtime, ORDER_UPDATED, [user_pk(alice)])
        message = await sub.receive()
        error = message["payload"]["errors"][0]
        assert error["message"] == "Internal server error" and "secret" not in json.dumps(message)
        assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR" and error["extensions"]["requestId"]
    assert any(r.name == "fenxiao.graphql" and r.levelname == "ERROR" for r in caplog.records)


async def test_events_carry_the_subject_as_the_viewer_may_see_it(client, app_state, realtime):
    """A buyer's order event brings the order itself; a distributor's wallet event its wallet."""
    from tests.order_support import PAY, chain, customer_of, make_sku, place

    _, (a,) = await chain(client, app_state, 1)
    buyer = await customer_of(client, a)
    sku = await make_sku(client, app_state, price_fen=2000)
    orders = "subscription { orderUpdated { type subject { ... on Order { id status total } } } }"
    wallets = "subscription { walletUpdated { wallet { frozen available } subject { __typename } } }"
    async with live(client, buyer["accessToken"]) as buyer_sub, live(client, a["token"]) as seller_sub:
        await buyer_sub.subscribe(orders)
        await seller_sub.subscribe(wallets)
        await wait_for_subscribers(realtime, 2)
        placed = (await place(client, buyer["accessToken"], sku))["order"]
        event = await buyer_sub.next_event()
        assert event == {"type": "order.updated",
                         "subject": {"id": placed["id"], "status": "PENDING_PAYMENT", "total": "20.00"}}
        await client.execute(PAY, {"input": {"orderId": placed["id"]}}, token=buyer["accessToken"])
        assert (await buyer_sub.next_event())["subject"]["status"] == "PAID"
        # Wallets are not nodes: the event's own field carries it.
        assert await seller_sub.next_event() == {"wallet": {"frozen": "2.00", "available": "0.00"}, "subject": None}
