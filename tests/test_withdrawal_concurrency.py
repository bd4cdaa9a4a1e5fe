"""Concurrency, for real: 200 simultaneous withdrawal requests against one balance, raced reviews
and raced payout callbacks, all through the API. On PostgreSQL (TEST_DATABASE_URL) every request
runs in its own connection and the wallet row lock decides; on SQLite writers serialise."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
from sqlalchemy import func, select

from core.db import create_engine, create_sessionmaker, writer_bind
from models.wallet import LedgerEntry, LedgerKind
from models.withdrawal import PayoutResultStatus, Withdrawal
from tests.databases import ON_POSTGRES
from tests.support import GraphQLClient
from tests.withdrawal_support import (
    APPROVE,
    LATE_CARD,
    REJECT,
    REQUEST,
    balanced,
    finance_token,
    funded,
    overview,
    post_payout_callback,
)

REQUESTS = 200


@pytest.fixture
async def wide_app(settings):
    """The app on an engine whose pool lets many requests hold connections at once (PostgreSQL;
    kept below the server's max_connections, so the remaining tasks queue for a connection)."""
    from app import build_app
    from server.state import AppState

    state = AppState.create(settings)
    if ON_POSTGRES:
        await state.engine.dispose()
        engine = create_engine(settings.database_url, pool_size=20, max_overflow=20, pool_timeout=120)
        state.engine = engine
        state.sessionmaker = create_sessionmaker(engine)
        state.writer_sessionmaker = create_sessionmaker(writer_bind(engine))
    app = build_app(state=state)
    yield app, state
    await state.close()


@pytest.fixture
async def wide_client(wide_app):
    async with GraphQLClient.open(wide_app[0]) as client:
        yield client


async def test_200_concurrent_requests_spend_each_fen_once(wide_client, wide_app, db):
    client, state = wide_client, wide_app[1]
    await finance_token(client, state, dailyCountLimit=None, dailyAmountLimit=None)
    me = await funded(client, state, 5_000)  # covers exactly 50 requests of 1.00

    async def one(i: int):
        response = await client.post(REQUEST, {"input": {"amount": "1.00", "idempotencyKey": f"k{i}"}},
                                     token=me["token"])
        body = response.json()
        assert "errors" not in body, body
        return body["data"]["withdrawalRequest"]

    results = await asyncio.gather(*(one(i) for i in range(REQUESTS)))
    outcomes = Counter("OK" if r["withdrawal"] else r["userErrors"][0]["code"] for r in results)
    assert outcomes == {"OK": 50, "INSUFFICIENT_FUNDS": REQUESTS - 50}
    assert len({r["withdrawal"]["id"] for r in results if r["withdrawal"]}) == 50
    balances = await balanced(db, me["pk"])
    assert (balances["available"], balances["withdrawing"]) == (0, 5_000)
    assert await db.scalar(select(func.count(Withdrawal.id))) == 50
    requested = await db.scalar(select(func.count(LedgerEntry.id)).where(
        LedgerEntry.kind == LedgerKind.WITHDRAWAL_REQUESTED))
    assert requested == 50
    assert (await overview(client, me["token"]))["available"] == "0.00"


async def test_raced_review_changes_the_state_once(wide_client, wide_app, db):
    client, state = wide_client, wide_app[1]
    finance = await finance_token(client, state)
    me = await funded(client, state, 10_000)
    w = (await client.execute(REQUEST, {"input": {"amount": "60.00"}}, token=me["token"]))["withdrawalRequest"]
    wid = w["withdrawal"]["id"]

    async def review(i: int):
        if i % 2:
            data = await client.execute(APPROVE, {"input": {"id": wid}}, token=finance)
            return data["withdrawalApprove"]
        data = await client.execute(REJECT, {"input": {"id": wid, "reason": "并发"}}, token=finance)
        return data["withdrawalReject"]

    results = await asyncio.gather(*(review(i) for i in range(20)))
    winners = [r for r in results if not r["userErrors"]]
    assert len(winners) == 1
    assert all(r["userErrors"][0]["code"] == "INVALID_TRANSITION" for r in results if r["userErrors"])
    balances = await balanced(db, me["pk"])
    assert balances["withdrawing"] == 0
    assert balances["available"] + balances["withdrawn"] == 10_000


async def test_raced_and_replayed_callbacks_change_nothing_twice(wide_client, wide_app, settings, db):
    client, state = wide_client, wide_app[1]
    finance = await finance_token(client, state)
    me = await funded(client, state, 10_000, account=LATE_CARD)
    w = (await client.execute(REQUEST, {"input": {"amount": "30.00"}}, token=me["token"]))["withdrawalRequest"]
    paying = (await client.execute(APPROVE, {"input": {"id": w["withdrawal"]["id"]}}, token=finance))
    reference = paying["withdrawalApprove"]["withdrawal"]["providerReference"]
    assert paying["withdrawalApprove"]["withdrawal"]["status"] == "PAYING"

    statuses = [PayoutResultStatus.PAID] * 15 + [PayoutResultStatus.FAILED] * 15
    responses = await asyncio.gather(*(post_payout_callback(client, settings, reference, s) for s in statuses))
    assert all(r.status_code == 200 for r in responses)
    # One answer acts; the first contradicting one is only recorded (for reconciliation); the rest
    # are replays of those two and change nothing.
    changed = [r.json()["status"] for r in responses if r.json()["changed"]]
    assert len(changed) == 2 and len(set(changed)) == 1
    assert {r.json()["status"] for r in responses} == set(changed)
    paid_or_returned = (await db.scalars(select(LedgerEntry.kind).where(
        LedgerEntry.subject_type == "Withdrawal",
        LedgerEntry.kind.in_([LedgerKind.WITHDRAWAL_PAID, LedgerKind.WITHDRAWAL_RETURNED])))).all()
    assert len(paid_or_returned) == 1
    balances = await balanced(db, me["pk"])
    assert balances["withdrawing"] == 0
    assert balances["withdrawn"] in (0, 3_000) and balances["available"] + balances["withdrawn"] == 10_000
    # Replays afterwards change nothing either.
    for status in (PayoutResultStatus.PAID, PayoutResultStatus.FAILED):
        again = await post_payout_callback(client, settings, reference, status)
        assert again.json()["changed"] is False
    assert await balanced(db, me["pk"]) == balances
