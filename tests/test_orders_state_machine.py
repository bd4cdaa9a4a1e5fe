"""Random sequences of orders, payments (some replayed), completions, refunds and settlement
runs; after every step the money must add up."""

from __future__ import annotations

import asyncio
import shutil
from dataclasses import dataclass, replace
from datetime import timedelta

from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule, run_state_machine_as_test
from sqlalchemy import func, select, text

from app import build_app
from auth.permissions import Permission
from auth.viewer import Viewer
from core.config import Settings
from core.db import create_engine, create_sessionmaker
from models.base import utcnow
from models.commission import CommissionRecord
from models.order import Channel, OrderItem, OrderStatus, Payment, PaymentStatus
from models.wallet import Wallet
from services import commission, ledger
from services import order as order_service
from services.payment import SandboxPaymentProvider
from server.state import AppState
from tests.databases import ON_POSTGRES, TEST_DATABASE_URL
from tests.factories import back_office
from tests.order_support import chain, customer_of, make_sku, pk
from tests.support import GraphQLClient

SHIPPING = order_service.Shipping(None, None, None, "address", "recipient", "13900000000")


@dataclass(frozen=True)
class Arranged:
    sku_id: int
    buyer_id: int
    staff_id: int


async def arrange(app_settings: Settings) -> Arranged:
    """Through the API: a chain of four distributors (tiers 10%, 5%, 2%), a customer bound to the
    last one, a product at 33.33, and a staff member with every permission."""
    state = AppState.create(app_settings)
    try:
        async with GraphQLClient.open(build_app(state=state)) as client:
            _, members = await chain(client, state, 4)
            buyer = await customer_of(client, members[-1])
            sku = await make_sku(client, state, price_fen=3333, stock=10_000)
            admin = await client.execute("{ viewer { user { id } } }", token=await back_office(client, state))
    finally:
        await state.close()
    return Arranged(sku_id=sku["sku_id"], buyer_id=pk(buyer["user"]["id"]), staff_id=pk(admin["viewer"]["user"]["id"]))


async def empty_postgres(maker) -> None:
    async with maker() as session:
        tables = (await session.execute(text(
            "SELECT tablename FROM pg_tables WHERE schemaname='public' AND tablename<>'alembic_version'"
        ))).scalars().all()
        await session.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        await session.commit()


class OrdersMachine(RuleBasedStateMachine):
    app_settings: Settings
    # Set when each example's database is a copy of one arranged already (SQLite); otherwise
    # (PostgreSQL, one database) every example empties it and arranges it again.
    arranged: Arranged | None = None

    def __init__(self):
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.engine = create_engine(self.app_settings.database_url)
        self.maker = create_sessionmaker(self.engine)
        self.payments = SandboxPaymentProvider("state-machine")
        self.now = None
        self.orders: list[int] = []

    def run(self, coroutine):
        return self.loop.run_until_complete(coroutine)

    def teardown(self):
        self.run(self.engine.dispose())
        self.loop.close()

    @initialize()
    def network(self):
        async def setup() -> Arranged:
            if self.arranged is not None:
                return self.arranged
            await empty_postgres(self.maker)
            return await arrange(self.app_settings)

        arranged = self.run(setup())
        self.sku_id, self.buyer = arranged.sku_id, Viewer(user_id=arranged.buyer_id)
        self.staff = Viewer(user_id=arranged.staff_id, is_staff=True, permissions=frozenset(Permission))
        self.now = utcnow()

    @rule(quantity=st.integers(1, 5), outcome=st.sampled_from(["SUCCEED", "CALLBACK_TWICE", "FAIL"]))
    def buy(self, quantity, outcome):
        async def go():
            async with self.maker() as session:
                order = await order_service.place_order(
                    session, self.buyer, channel=Channel.APP,
                    items=[order_service.ItemRequest(self.sku_id, quantity)], shipping=SHIPPING, share_token=None,
                    idempotency_key=None)
                await order_service.sandbox_pay(session, self.buyer, self.payments, order_id=order.id, outcome=outcome)
                await session.commit()
                if outcome != "FAIL":
                    self.orders.append(order.id)

        self.run(go())

    @precondition(lambda self: self.orders)
    @rule(data=st.data())
    def replay_callback(self, data):
        """A provider resends the success callback of an already paid order."""
        order_id = data.draw(st.sampled_from(self.orders))

        async def go():
            async with self.maker() as session:
                payment = await session.scalar(select(Payment).where(
                    Payment.order_id == order_id, Payment.status == PaymentStatus.SUCCEEDED))
                body, signature = self.payments.callback_body(payment.provider_ref, payment.amount_fen, True)
                await order_service.handle_payment_callback(session, self.payments, body, signature)
                await session.commit()

        self.run(go())

    @precondition(lambda self: self.orders)
    @rule(data=st.data())
    def ship_and_complete(self, data):
        order_id = data.draw(st.sampled_from(self.orders))

        async def go():
            async with self.maker() as session:
                order = await session.get(order_service.Order, order_id)
                if order.status == OrderStatus.PAID:
                    await order_service.ship(session, self.staff, order_id=order_id, carrier="c", tracking_number="t")
                    await order_service.confirm_receipt(session, self.buyer, order_id=order_id)
                await session.commit()

        self.run(go())

    @precondition(lambda self: self.orders)
    @rule(data=st.data(), share=st.integers(1, 100))
    def refund(self, data, share):
        order_id = data.draw(st.sampled_from(self.orders))

        async def go():
            async with self.maker() as session:
                item = await session.scalar(select(OrderItem).where(OrderItem.order_id == order_id))
                amount = (item.paid_fen - item.refunded_fen) * share // 100
                if amount <= 0:
                    return
                refund = await order_service.request_refund(session, self.buyer, order_item_id=item.id,
                                                            amount_fen=amount, reason="r")
                await order_service.review_refund(session, self.staff, refund_id=refund.id, approve=True, note=None)
                await session.commit()

        self.run(go())

    @rule(days=st.integers(0, 20), periodic=st.booleans())
    def settle(self, days, periodic):
        async def go():
            async with self.maker() as session:
                when = self.now + timedelta(days=days)
                if periodic:
                    await commission.run_periodic_settlement(session, None, period="2026-11", now=when)
                else:
                    await commission.settle_due(session, when)
                await session.commit()

        self.run(go())

    @invariant()
    def money_adds_up(self):
        if self.now is None:
            return

        async def check():
            async with self.maker() as session:
                for wallet in (await session.scalars(select(Wallet))).all():
                    balances = ledger.balances(wallet)
                    assert balances == await ledger.ledger_sums(session, wallet.id)
                    assert min(balances[b] for b in ("frozen", "available", "withdrawing", "withdrawn", "debt")) >= 0
                    assert balances["credited"] - balances["reversed"] == (
                        balances["frozen"] + balances["available"] + balances["withdrawing"] + balances["withdrawn"]
                        - balances["debt"])
                    earned = await session.scalar(select(func.coalesce(func.sum(CommissionRecord.amount_fen), 0))
                                                  .where(CommissionRecord.beneficiary_user_id == wallet.user_id))
                    assert earned == balances["credited"] - balances["reversed"]
                # Shares never pass the cap of what is still paid on an item.
                rows = (await session.execute(
                    select(OrderItem.paid_fen - OrderItem.refunded_fen, func.sum(CommissionRecord.amount_fen))
                    .join(CommissionRecord, CommissionRecord.order_item_id == OrderItem.id)
                    .group_by(OrderItem.id, OrderItem.paid_fen, OrderItem.refunded_fen))).all()
                cap_bps = (await commission.get_settings(session)).cap_bps
                for remaining, total in rows:
                    assert total <= remaining * cap_bps // 10_000

        self.run(check())


def test_orders_and_money_state_machine(migrated_template, settings, tmp_path):
    counter = iter(range(10_000))
    app_settings = replace(settings, redis_url=None)
    if ON_POSTGRES:
        OrdersMachine.app_settings, OrdersMachine.arranged = replace(app_settings, database_url=TEST_DATABASE_URL), None
    else:
        arranged_copy = tmp_path / "arranged.db"
        shutil.copy(migrated_template, arranged_copy)
        OrdersMachine.arranged = asyncio.run(arrange(replace(app_settings,
                                                            database_url=f"sqlite+aiosqlite:///{arranged_copy}")))

    def factory():
        if not ON_POSTGRES:
            path = tmp_path / f"machine-{next(counter)}.db"
            shutil.copy(arranged_copy, path)
            OrdersMachine.app_settings = replace(app_settings, database_url=f"sqlite+aiosqlite:///{path}")
        return OrdersMachine()

    # An eighth of the profile's examples (12 by default), each on its own database; the steps per
    # example come from the profile.
    budget = hypothesis_settings(max_examples=hypothesis_settings.default.max_examples // 8, deadline=None,
                                 suppress_health_check=list(HealthCheck))
    run_state_machine_as_test(factory, settings=budget)
