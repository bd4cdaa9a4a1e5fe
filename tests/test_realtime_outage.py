"""Broker outage: mutations keep committing, /healthz reports the broker unreachable, and the
events committed meanwhile are delivered, in order, when it returns.

With TEST_REDIS_URL set (the PostgreSQL + Redis run) the broker is a throwaway `redis-server`
this test stops and restarts on the same port. Without it the in-process equivalent runs: the
relay is down (a crash) while changes commit, and catches up when it is back."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time

import pytest
import redis

from core.ids import decode_global_id
from realtime.outbox import WALLET_UPDATED, emit
from tests.databases import TEST_REDIS_URL
from tests.factories import register
from tests.processes import free_port
from tests.realtime_support import live, wait_for_subscribers
from tests.support import GraphQLClient

WALLET = "subscription($after: String) { walletUpdated(after: $after) { cursor subjectId data } }"


class ThrowawayRedis:
    def __init__(self, port: int) -> None:
        self.port = port
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary, "the broker outage test needs redis-server"
        self.process = subprocess.Popen([binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                         "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while True:
            try:
                if redis.Redis(port=self.port, socket_timeout=0.5).ping():
                    return
            except redis.ConnectionError:
                pass
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


@pytest.fixture(params=["redis" if TEST_REDIS_URL else "in-process"])
def broker(request):
    if request.param == "in-process":
        yield None
        return
    server = ThrowawayRedis(free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def outage_state(settings, broker):
    from dataclasses import replace

    from server.state import AppState

    state = AppState.create(replace(settings, redis_url=broker.url if broker else None,
                                    outbox_relay_interval_seconds=0.1, hub_sync_interval_seconds=1.0))
    yield state
    await state.close()


async def _emit(state, user_id: int, n: int) -> None:
    async with state.writer_sessionmaker() as session:
        await emit(session, event_type=WALLET_UPDATED, subject_type="Wallet", subject_id=user_id,
                   audience_user_ids=[user_id], payload={"availableFen": n * 100})
        await session.commit()


async def test_events_committed_during_a_broker_outage_arrive_when_it_returns(outage_state, broker):
    from app import build_app

    state = outage_state
    app = build_app(state=state)
    state.start()
    await state.hub.wait_ready()
    async with GraphQLClient.open(app) as client:
        user = await register(client)
        user_id = decode_global_id(user["user"]["id"])[1]
        async with live(client, user["accessToken"]) as sub:
            await sub.subscribe(WALLET)
            await wait_for_subscribers(state, 1)
            await _emit(state, user_id, 1)
            assert (await sub.next_event())["data"] == {"availableFen": 100}

            # The outage.
            if broker:
                broker.stop()
                health = await client.http.get("/healthz")
                assert health.status_code == 503 and health.json()["broker"] == "unreachable"
            else:
                await state.relay.stop()
            # Mutations still commit (a real one, and changes that emit).
            newcomer = await register(client)
            assert newcomer["accessToken"]
            for n in (2, 3, 4):
                await _emit(state, user_id, n)
            await sub.nothing(1.0)
            health = (await client.http.get("/healthz")).json()
            assert health["outboxPending"] == 3 and health["database"] == "ok"
            assert health["broker"] == ("unreachable" if broker else "ok")

            # The broker is back: everything committed meanwhile arrives, in order, once.
            if broker:
                broker.start()
            else:
                state.relay.start()
            got = [(await sub.next_event(timeout=15))["data"]["availableFen"] for _ in range(3)]
            assert got == [200, 300, 400]
            await _emit(state, user_id, 5)
            assert (await sub.next_event())["data"] == {"availableFen": 500}
            await sub.nothing(0.5)
        for _ in range(50):
            health = await client.http.get("/healthz")
            if health.status_code == 200:
                break
            await asyncio.sleep(0.1)
        assert health.json()["broker"] == "ok" and health.json()["outboxPending"] == 0
