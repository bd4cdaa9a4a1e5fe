"""Fan-out benchmark: 1,000 subscribers across two app processes sharing PostgreSQL and Redis.

    DATABASE_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/bench REDIS_URL=redis://127.0.0.1:6379/12 \
        uv run bench/fanout.py [--subscribers 1000] [--events 100] [--rate 50]

Starts two `app.py` processes (A and B), creates one distributor account per subscriber and
connects each (real WebSockets, half graphql-transport-ws, half graphql-ws) to A or B in turn,
subscribed to `commissionUpdated`. Then it commits `--events` commission changes through
realtime.outbox.emit (the call the commission service makes), each one for every subscriber
(a team-wide change, the worst case for fan-out), and prints the delivery latency from commit
to receipt (p50/p95/p99/max) and the number of missing and duplicate deliveries.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from websockets.asyncio.client import connect  # noqa: E402

from tests.processes import start_server  # noqa: E402

QUERY = "subscription { commissionUpdated { cursor data } }"


async def _create_users(sessionmaker, count: int) -> list[int]:
    from sqlalchemy import insert

    from models.account import User
    from models.base import utcnow

    stamp = int(time.time()) % 100000
    async with sessionmaker() as session:
        ids = list((await session.scalars(insert(User).returning(User.id, sort_by_parameter_order=True), [
            {"phone": f"19{stamp:05d}{i:04d}", "nickname": f"bench{i}", "is_active": True, "is_staff": False,
             "created_at": utcnow()} for i in range(count)])).all())
        await session.commit()
    return ids


class Subscriber:
    def __init__(self, index: int, base: str, token: str, protocol: str) -> None:
        self.index = index
        self.base = base
        self.token = token
        self.protocol = protocol
        self.received: dict[int, float] = {}  # sequence number -> receive time
        self.duplicates = 0
        self.errors: list = []
        self.ws = None
        self.task: asyncio.Task | None = None

    async def open(self) -> None:
        self.ws = await connect(f"ws://{self.base}/graphql", subprotocols=[self.protocol], max_queue=None,
                                open_timeout=30)
        await self.ws.send(json.dumps({"type": "connection_init",
                                       "payload": {"authorization": f"Bearer {self.token}"}}))
        ack = json.loads(await self.ws.recv())
        if ack["type"] != "connection_ack":
            raise RuntimeError(f"refused: {ack}")
        start = "subscribe" if self.protocol == "graphql-transport-ws" else "start"
        await self.ws.send(json.dumps({"id": "1", "type": start, "payload": {"query": QUERY}}))
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for raw in self.ws:
            now = time.time()
            message = json.loads(raw)
            if message["type"] not in ("next", "data"):
                if message["type"] != "ka":
                    self.errors.append(message)
                continue
            payload = message["payload"]
            if payload.get("errors"):
                self.errors.append(payload["errors"])
                continue
            seq = payload["data"]["commissionUpdated"]["data"]["seq"]
            if seq in self.received:
                self.duplicates += 1
            else:
                self.received[seq] = now

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self.task is not None:
            self.task.cancel()
            try:
                await self.task
            except asyncio.CancelledError:
                pass


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, int(round(p / 100 * len(ordered) + 0.5)) - 1))
    return ordered[k]


async def run(args) -> int:
    from auth.permissions import ClientKind
    from auth.tokens import issue_access_token
    from core.db import create_engine, create_sessionmaker, writer_bind
    from models.base import utcnow
    from realtime.outbox import COMMISSION_UPDATED, emit

    database_url = os.environ.get("DATABASE_URL", "")
    redis_url = os.environ.get("REDIS_URL", "")
    if not database_url.startswith("postgresql") or not redis_url:
        print("Set DATABASE_URL (PostgreSQL) and REDIS_URL: two processes need both.", file=sys.stderr)
        return 2
    secret = secrets.token_urlsafe(32)
    env = dict(os.environ, SECRET_KEY=secret, FIELD_ENCRYPTION_KEY=secrets.token_urlsafe(32), LOG_LEVEL="WARNING",
               OUTBOX_RELAY_INTERVAL=str(args.relay_interval), SUBSCRIBER_QUEUE_SIZE="1000")
    servers = [start_server(env, capture=False)]
    servers.append(start_server(env, "--no-migrate", capture=False))
    bases = [base for _, base in servers]
    engine = create_engine(database_url, pool_size=2)
    sessionmaker = create_sessionmaker(writer_bind(engine))
    subscribers: list[Subscriber] = []
    try:
        user_ids = await _create_users(sessionmaker, args.subscribers)
        now = utcnow()
        for i, user_id in enumerate(user_ids):
            token, _ = issue_access_token(secret, user_id=user_id, family_id=secrets.token_hex(16),
                                          client=ClientKind.APP, now=now, ttl_seconds=3600)
            protocol = "graphql-transport-ws" if (i // 2) % 2 == 0 else "graphql-ws"
            subscribers.append(Subscriber(i, bases[i % 2], token, protocol))
        started = time.perf_counter()
        gate = asyncio.Semaphore(100)

        async def open_one(sub: Subscriber) -> None:
            async with gate:
                await sub.open()

        await asyncio.gather(*(open_one(s) for s in subscribers))
        print(f"connected {len(subscribers)} subscribers ({sum(1 for s in subscribers if s.base == bases[0])} on A, "
              f"{sum(1 for s in subscribers if s.base == bases[1])} on B) in {time.perf_counter() - started:.1f}s")

        async def commit(seq: int) -> float:
            async with sessionmaker() as session:
                await emit(session, event_type=COMMISSION_UPDATED, subject_type="Commission", subject_id=seq + 1,
                           audience_user_ids=user_ids, payload={"seq": seq, "amountFen": 100 + seq})
                await session.commit()
            return time.time()

        # Warm-up: wait until every subscription is live.
        await asyncio.sleep(1.0)
        await commit(-1)
        deadline = time.monotonic() + 30
        while any(-1 not in s.received for s in subscribers) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        not_live = sum(1 for s in subscribers if -1 not in s.received)
        if not_live:
            print(f"warning: {not_live} subscribers did not receive the warm-up event", file=sys.stderr)

        committed: dict[int, float] = {}
        for seq in range(args.events):
            committed[seq] = await commit(seq)
            await asyncio.sleep(1 / args.rate)
        deadline = time.monotonic() + args.settle
        expected = args.events * len(subscribers)
        while time.monotonic() < deadline:
            if sum(len([k for k in s.received if k >= 0]) for s in subscribers) >= expected:
                break
            await asyncio.sleep(0.1)
        latencies = [(s.received[seq] - committed[seq]) * 1000 for s in subscribers for seq in committed
                     if seq in s.received]
        missing = expected - len(latencies)
        duplicates = sum(s.duplicates for s in subscribers)
        errors = [e for s in subscribers for e in s.errors]
        print(f"events: {args.events} commission changes, each to all {len(subscribers)} subscribers "
              f"({expected} deliveries expected), committed at {args.rate}/s")
        if latencies:
            print(f"latency ms (commit -> received): p50 {statistics.median(latencies):.1f}  "
                  f"p95 {_percentile(latencies, 95):.1f}  p99 {_percentile(latencies, 99):.1f}  "
                  f"max {max(latencies):.1f}")
        print(f"missing events: {missing}   duplicates: {duplicates}   errors: {len(errors)}")
        if errors:
            print(f"first error: {errors[0]}", file=sys.stderr)
        return 0 if missing == 0 and duplicates == 0 and not errors else 1
    finally:
        await asyncio.gather(*(s.close() for s in subscribers), return_exceptions=True)
        await engine.dispose()
        for process, _ in servers:
            process.terminate()
        for process, _ in servers:
            process.wait(timeout=10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--events", type=int, default=100)
    parser.add_argument("--rate", type=float, default=50.0, help="commits per second (default 50)")
    parser.add_argument("--relay-interval", type=float, default=0.05,
                        help="OUTBOX_RELAY_INTERVAL of the servers (default 0.05 s)")
    parser.add_argument("--settle", type=float, default=30.0, help="seconds to wait for the last deliveries")
    return asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
