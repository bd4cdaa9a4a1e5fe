"""Random sequences of orders, payments (some replayed), completions, refunds and settlement
runs; after every step the money must add up."""

from __future__ import annotations

import asyncio
import shutil
from datetime import timedelta

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule, run_state_machine_as_test
from sqlalchemy import func, select, text

from auth.permissions import Permission
from auth.viewer import Viewer
from core.db import create_engine, create_sessionmaker
from models.account import User
from models.catalog import Product, Sku
from models.commission import CommissionRecord
from models.network import Distributor, DistributorStatus, Grade
from models.order import Channel, OrderItem, OrderStatus
from models.wallet import Wallet
from services import commission, ledger
from services import network as network_service
from services import order as order_service
from services.payment import SandboxPaymentProvider
from tests.conftest import ON_POSTGRES, TEST_DATABASE_URL

SHIPPING = order_service.Shipping(None, None, None, "address", "recipient", "13900000000")
# User 1 exists in every run (the first of the chain) and acts as staff for shipping and refunds.
STAFF = Viewer(user_id=1, is_staff=True, permissions=frozenset(Permission))


class OrdersMachine(RuleBasedStateMachine):
    database_url: str = ""

    def __init__(self):
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.engine = create_engine(self.database_url)
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
        async def setup():
            async with self.maker() as session:
                if ON_POSTGRES:
                    tables = (await session.execute(text(
                        "SELECT tablename FROM pg_tables WHERE schemaname='public' AND tablename<>'alembic_version'"
                    ))).scalars().all()
                    await session.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
                program = network_service.default_program()
                program.commission_depth = 3
                session.add(program)
                grade = Grade(name="g", level=1, tier1_rate_bps=1000, tier2_rate_bps=500, tier3_rate_bps=300)
                session.add(grade)
                users = [User(nickname=f"u{i}") for i in range(5)]
                session.add_all(users)
                await session.flush()
                path = "/"
                parent = None
                for user in users[:4]:
                    d = Distributor(user_id=user.id, status=DistributorStatus.ACTIVE, grade_id=grade.id,
                                    parent_id=parent.id if parent else None, depth=0, path=None)
                    session.add(d)
                    await session.flush()
                    path = f"{path}{d.id}/"
                    d.path, d.depth = path, path.count("/") - 2
                    parent = d
                self.last_distributor = parent.id
                product = Product(title="p", on_shelf=True, distributable=True, image_urls=[])
                session.add(product)
                await session.flush()
                sku = Sku(product_id=product.id, code="S", attributes={}, price_fen=3333, stock=10_000)
                session.add(sku)
                await session.flush()
                self.sku_id, self.buyer = sku.id, Viewer(user_id=users[4].id)
                from models.network import CustomerBinding, ShareKind

                session.add(CustomerBinding(customer_id=users[4].id, distributor_id=parent.id,
                                            source=ShareKind.INVITE_CODE))
                await session.commit()
                from models.base import utcnow

                self.now = utcnow()

        self.run(setup())

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
            from models.order import Payment, PaymentStatus

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
                    await order_service.ship(session, STAFF, order_id=order_id, carrier="c", tracking_number="t")
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
                await order_service.review_refund(session, STAFF, refund_id=refund.id, approve=True, note=None)
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


def test_orders_and_money_state_machine(migrated_template, tmp_path):
    counter = iter(range(10_000))

    def factory():
        if ON_POSTGRES:
            OrdersMachine.database_url = TEST_DATABASE_URL
        else:
            path = tmp_path / f"machine-{next(counter)}.db"
            shutil.copy(migrated_template, path)
            OrdersMachine.database_url = f"sqlite+aiosqlite:///{path}"
        return OrdersMachine()

    run_state_machine_as_test(factory, settings=settings(max_examples=12, stateful_step_count=12, deadline=None,
                                                         suppress_health_check=list(HealthCheck)))
