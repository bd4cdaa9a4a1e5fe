"""Real server processes and a real WebSocket client (the `websockets` library).

On PostgreSQL + Redis: two `app.py` processes share the database and Redis; a change committed
and published by process A reaches a subscriber connected to process B (B's relay is idle, so
the only way there is A's relay -> Redis -> B's hub). On SQLite (one process only) the same
test runs against a single process."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from websockets.asyncio.client import connect

from realtime.outbox import ORDER_UPDATED, emit
from tests.processes import server_env, start_server, stop_servers

REGISTER = ('mutation($p: String!) { register(input: {phone: $p, password: "s3cret-pass"}) '
            '{ accessToken user { id } userErrors { code } } }')
ORDERS = "subscription($after: String) { orderUpdated(after: $after) { cursor subjectId data } }"


@pytest.fixture
def servers(tmp_path, database_url, redis_url):
    """[A, B] on PostgreSQL + Redis; [A] alone on SQLite."""
    from tests.databases import ON_POSTGRES

    url = database_url if ON_POSTGRES else f"sqlite+aiosqlite:///{tmp_path / 'served.db'}"
    env = server_env(url, redis_url, tmp_path)
    env["OUTBOX_RELAY_INTERVAL"] = "0.05"
    processes = []
    try:
        processes.append(start_server(env))
        if ON_POSTGRES and redis_url:
            idle = dict(env, OUTBOX_RELAY_INTERVAL="3600")
            processes.append(start_server(idle, "--no-migrate"))
        yield url, [base for _, base in processes]
    finally:
        stop_servers([process for process, _ in processes])


async def _emit(database_url: str, user_id: int, subject_id: int) -> None:
    from core.db import create_engine, create_sessionmaker, writer_bind

    engine = create_engine(database_url)
    try:
        async with create_sessionmaker(writer_bind(engine))() as session:
            await emit(session, event_type=ORDER_UPDATED, subject_type="Order", subject_id=subject_id,
                       audience_user_ids=[user_id], payload={"n": subject_id})
            await session.commit()
    finally:
        await engine.dispose()


async def _subscribe(base: str, token: str, protocol: str, after: str | None = None):
    ws = await connect(f"ws://{base}/graphql", subprotocols=[protocol])
    await ws.send(json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}))
    assert json.loads(await ws.recv())["type"] == "connection_ack"
    start = "subscribe" if protocol == "graphql-transport-ws" else "start"
    await ws.send(json.dumps({"id": "1", "type": start, "payload": {"query": ORDERS, "variables": {"after": after}}}))
    return ws


async def _next(ws) -> dict:
    while True:
        message = json.loads(await asyncio.wait_for(ws.recv(), 10))
        if message["type"] in ("next", "data"):
            assert "errors" not in message["payload"], message
            return message["payload"]["data"]["orderUpdated"]
        assert message["type"] == "ka", message


async def test_a_change_reaches_subscribers_on_every_process(servers):
    database_url, bases = servers
    async with httpx.AsyncClient() as http:
        body = (await http.post(f"http://{bases[0]}/graphql",
                                json={"query": REGISTER, "variables": {"p": "13812345678"}})).json()
    token = body["data"]["register"]["accessToken"]
    from core.ids import decode_global_id

    user_id = decode_global_id(body["data"]["register"]["user"]["id"])[1]
    protocols = ["graphql-transport-ws", "graphql-ws"]
    sockets = [await _subscribe(base, token, protocol) for base in bases for protocol in protocols]
    try:
        # Until the subscriptions are live, a warm-up event may arrive by replay or not at all;
        # resubscribing with `after` makes that exact: each socket ends at the same event.
        await asyncio.sleep(0.5)
        await _emit(database_url, user_id, 1)
        first = [await _next(ws) for ws in sockets]
        assert {e["subjectId"] for e in first} == {first[0]["subjectId"]}
        for n in (2, 3):
            await _emit(database_url, user_id, n)
        received = [[(await _next(ws))["data"]["n"] for _ in range(2)] for ws in sockets]
        assert received == [[2, 3]] * len(sockets)
    finally:
        for ws in sockets:
            await ws.close()
    # Reconnect to the last process with the first cursor: 2 and 3 replay, then live again.
    ws = await _subscribe(bases[-1], token, "graphql-transport-ws", after=first[-1]["cursor"])
    try:
        assert [(await _next(ws))["data"]["n"] for _ in range(2)] == [2, 3]
        await _emit(database_url, user_id, 4)
        assert (await _next(ws))["data"]["n"] == 4
    finally:
        await ws.close()
    assert len(bases) == (2 if "postgresql" in database_url else 1)


APPLY = 'mutation { distributorApply(input: {agreementVersion: "1"}) { application { id status } userErrors { code } } }'
APPLICATIONS = "subscription { applicationUpdated { type subjectId data } }"


async def test_a_mutation_on_one_process_reaches_a_subscriber_on_the_other(servers):
    """The whole path: a mutation commits on A (with its outbox event), A's relay publishes, and
    the subscriber connected to B (the last process) receives it."""
    _, bases = servers
    async with httpx.AsyncClient() as http:
        body = (await http.post(f"http://{bases[0]}/graphql",
                                json={"query": REGISTER, "variables": {"p": "13812345679"}})).json()
        token = body["data"]["register"]["accessToken"]
        ws = await connect(f"ws://{bases[-1]}/graphql", subprotocols=["graphql-transport-ws"])
        try:
            await ws.send(json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}))
            assert json.loads(await ws.recv())["type"] == "connection_ack"
            await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": APPLICATIONS}}))
            await asyncio.sleep(0.5)  # the subscription is registered with B's hub
            applied = (await http.post(f"http://{bases[0]}/graphql", json={"query": APPLY},
                                       headers={"authorization": f"Bearer {token}"})).json()
            application = applied["data"]["distributorApply"]["application"]
            assert application["status"] == "PENDING"
            message = json.loads(await asyncio.wait_for(ws.recv(), 10))
            assert message["type"] == "next", message
            event = message["payload"]["data"]["applicationUpdated"]
            assert event["type"] == "application.updated" and event["subjectId"] == application["id"]
            assert event["data"]["status"] == "PENDING"
        finally:
            await ws.close()
