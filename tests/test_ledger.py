"""The ledger's invariants under random sequences of operations, replays included. The ledger is
the unit under test, so its operations run directly, on wallets of bare user rows."""

from __future__ import annotations

import asyncio

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.db import create_engine, create_sessionmaker
from core.errors import ServiceError
from models.account import User
from models.wallet import LedgerKind, Wallet
from services import ledger

operation = st.tuples(
    st.sampled_from(["credit", "reverse", "settle", "clawback", "request", "return", "pay"]),
    st.integers(min_value=0, max_value=50_000),
    st.integers(min_value=0, max_value=6),  # key number: small range so keys repeat (replays)
)


async def _run(database_url: str, ops: list[tuple[str, int, int]]) -> None:
    engine = create_engine(database_url)
    maker = create_sessionmaker(engine)
    try:
        async with maker() as session:
            user = User(nickname="ledger")
            session.add(user)
            await session.commit()
        for name, amount, key_number in ops:
            async with maker() as session:
                wallet = await ledger.wallet_for_update(session, user.id)
                key = f"{user.id}:{name}:{key_number}"
                common = dict(user_id=user.id, key=key, subject_type="Test", subject_id=1)
                try:
                    if name == "credit":
                        await ledger.credit_frozen(session, amount=amount, **common)
                    elif name == "reverse":
                        await ledger.reverse_frozen(session, amount=min(amount, wallet.frozen_fen), **common)
                    elif name == "settle":
                        await ledger.settle(session, amount=min(amount, wallet.frozen_fen), **common)
                    elif name == "clawback":
                        await ledger.claw_back(session, amount=amount, **common)
                    else:
                        kind, deltas = {
                            "request": (LedgerKind.WITHDRAWAL_REQUESTED, ledger.Deltas(available=-amount, withdrawing=amount)),
                            "return": (LedgerKind.WITHDRAWAL_RETURNED, ledger.Deltas(available=amount, withdrawing=-amount)),
                            "pay": (LedgerKind.WITHDRAWAL_PAID, ledger.Deltas(withdrawing=-amount, withdrawn=amount)),
                        }[name]
                        await ledger.post(session, user_id=user.id, kind=kind, deltas=deltas, idempotency_key=key)
                    await session.commit()
                except ServiceError as error:
                    assert error.code.value == "INSUFFICIENT_FUNDS"
                    await session.rollback()
            async with maker() as session:
                wallet = await ledger.wallet_for_update(session, user.id)
                balances = ledger.balances(wallet)
                assert balances == await ledger.ledger_sums(session, wallet.id)
                assert all(balances[b] >= 0 for b in ("frozen", "available", "withdrawing", "withdrawn", "debt"))
                assert balances["credited"] - balances["reversed"] == (
                    balances["frozen"] + balances["available"] + balances["withdrawing"]
                    + balances["withdrawn"] - balances["debt"])
                assert not (balances["debt"] and balances["available"]), "debt is repaid before money is available"
    finally:
        await engine.dispose()


# A quarter of the profile's examples (25 by default): each runs its operations on the database.
@settings(max_examples=settings.default.max_examples // 4, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(operation, max_size=12))
def test_balances_always_equal_ledger_sums(database_url, ops):
    asyncio.run(_run(database_url, ops))


async def test_replayed_key_changes_nothing(app_state):
    async with app_state.sessionmaker() as session:
        user = User(nickname="replay")
        session.add(user)
        await session.flush()
        first = await ledger.credit_frozen(session, user_id=user.id, amount=1234, key="k1", subject_type="T", subject_id=1)
        again = await ledger.credit_frozen(session, user_id=user.id, amount=9999, key="k1", subject_type="T", subject_id=1)
        assert again.id == first.id
        wallet = await session.get(Wallet, first.wallet_id)
        assert wallet.frozen_fen == 1234 and wallet.credited_fen == 1234
        await ledger.claw_back(session, user_id=user.id, amount=2000, key="c1", subject_type="T", subject_id=1)
        assert (wallet.available_fen, wallet.debt_fen) == (0, 2000)
        await ledger.settle(session, user_id=user.id, amount=1234, key="s1", subject_type="T", subject_id=1)
        assert (wallet.frozen_fen, wallet.available_fen, wallet.debt_fen) == (0, 0, 766)
