"""Orders from placement to completion: stock, expiry, idempotency, the payment callback, who
sees which orders, refunds and settlement runs."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import func, select

from auth.viewer import Viewer
from models.base import utcnow
from models.commission import CommissionRecord
from models.order import Payment
from models.wallet import LedgerEntry
from services import commission, jobs
from services import order as order_service
from tests.factories import back_office, join
from tests.order_support import (
    PAY,
    RECEIVE,
    REQUEST_REFUND,
    REVIEW_REFUND,
    SHIP,
    WALLET,
    chain,
    customer_of,
    finance,
    make_sku,
    pk,
    place,
    place_and_pay,
    ship_and_receive,
    sku_stock,
)

ORDER_VIEW = """
query($first: Int, $team: Boolean) {
  distributorOrders(first: $first, includeTeam: $team) { nodes { id status buyerPhone recipient recipientPhone } }
}"""
ORDER_STATUS = "query($id: ID!) { node(id: $id) { ... on Order { status } } }"
STOCK_HISTORY = "query($sku: ID!) { stockAdjustments(skuId: $sku, first: 10) { nodes { delta orderId } } }"


async def test_placing_twice_with_one_key_returns_the_first_order(client, app_state):
    _, (a,) = await chain(client, app_state, 1)
    buyer = await customer_of(client, a)
    sku = await make_sku(client, app_state, price_fen=1000, stock=5)
    first = await place(client, buyer["accessToken"], sku, 2, idempotencyKey="cart-1")
    second = await place(client, buyer["accessToken"], sku, 2, idempotencyKey="cart-1")
    assert first["order"]["id"] == second["order"]["id"]
    assert await sku_stock(client, app_state, sku) == 3


async def test_stock_is_reserved_refused_and_released(client, app_state):
    _, (a,) = await chain(client, app_state, 1)
    buyer = await customer_of(client, a)
    sku = await make_sku(client, app_state, price_fen=1000, stock=3)
    placed = await place(client, buyer["accessToken"], sku, 3)
    assert placed["userErrors"] == [] and await sku_stock(client, app_state, sku) == 0
    refused = await place(client, buyer["accessToken"], sku, 1)
    assert refused["order"] is None and refused["userErrors"][0]["code"] == "OUT_OF_STOCK"
    cancelled = await client.execute("mutation($id: ID!) { cancelOrder(orderId: $id, reason: \"改主意\") "
                                     "{ order { status cancelReason } userErrors { code } } }",
                                     {"id": placed["order"]["id"]}, token=buyer["accessToken"])
    assert cancelled["cancelOrder"]["order"] == {"status": "CANCELLED", "cancelReason": "改主意"}
    assert await sku_stock(client, app_state, sku) == 3
    history = (await client.execute(STOCK_HISTORY, {"sku": sku["sku_gid"]},
                                    token=await back_office(client, app_state)))["stockAdjustments"]["nodes"]
    # Newest first: the release on cancelling, the reservation, the initial stock. The order is a global id.
    assert [(h["delta"], h["orderId"]) for h in history] == [
        (3, placed["order"]["id"]), (-3, placed["order"]["id"]), (3, None)]


async def test_unpaid_orders_expire_and_release_stock(client, app_state):
    _, (a,) = await chain(client, app_state, 1)
    buyer = await customer_of(client, a)
    sku = await make_sku(client, app_state, price_fen=1000, stock=2)
    placed = await place(client, buyer["accessToken"], sku, 2)
    async with app_state.sessionmaker() as session:
        assert await order_service.expire_unpaid(session, utcnow() + timedelta(minutes=31)) == 1
        await session.commit()
    assert await sku_stock(client, app_state, sku) == 2
    paid = (await client.execute(PAY, {"input": {"orderId": placed["order"]["id"]}},
                                 token=buyer["accessToken"]))["payOrder"]
    assert paid["userErrors"][0]["code"] == "INVALID_STATE"


async def test_place_order_refusals(client, app_state):
    _, (a,) = await chain(client, app_state, 1)
    buyer = await customer_of(client, a)
    sku = await make_sku(client, app_state, price_fen=1000)
    assert (await place(client, buyer["accessToken"], sku, 0))["userErrors"][0]["code"] == "INVALID"
    bad = await place(client, buyer["accessToken"], {"sku_gid": "U2t1Ojk5OTk"}, 1)  # Sku:9999
    assert bad["userErrors"][0]["code"] == "NOT_FOUND"
    unknown_link = await place(client, buyer["accessToken"], sku, 1, shareToken="nope")
    assert unknown_link["userErrors"][0] == {"field": "shareToken", "code": "NOT_FOUND",
                                             "message": "This share link does not exist."}
    anonymous = (await client.execute("mutation($i: PlaceOrderInput!) { placeOrder(input: $i) { userErrors { code } } }",
                                      {"i": {"channel": "H5", "items": [{"skuId": sku["sku_gid"], "quantity": 1}],
                                             "shipping": {"recipient": "x", "phone": "1", "address": "y"}}}))
    assert anonymous["placeOrder"]["userErrors"][0]["code"] == "NOT_AUTHENTICATED"


async def _pending_payment(client, app_state):
    _, (a, b) = await chain(client, app_state, 2)
    buyer = await customer_of(client, b)
    sku = await make_sku(client, app_state, price_fen=12345)
    placed = await place(client, buyer["accessToken"], sku)
    # payOrder's sandbox answers at once; a payment still waiting for its callback needs the service.
    async with app_state.sessionmaker() as session:
        order, payment = await order_service.start_payment(
            session, Viewer(user_id=pk(buyer["user"]["id"])), app_state.payments, order_id=pk(placed["order"]["id"]))
        await session.commit()
    return placed["order"], payment


async def test_callback_endpoint_verifies_and_is_idempotent(client, app_state):
    order, payment = await _pending_payment(client, app_state)
    body, signature = app_state.payments.callback_body(payment.provider_ref, payment.amount_fen, True)
    forged = await client.http.post("/callbacks/payment/sandbox", content=body, headers={"x-signature": "0" * 64})
    assert forged.status_code == 400 and forged.json()["error"] == "INVALID_SIGNATURE"
    wrong_amount, wrong_sig = app_state.payments.callback_body(payment.provider_ref, 1, True)
    mismatch = await client.http.post("/callbacks/payment/sandbox", content=wrong_amount,
                                      headers={"x-signature": wrong_sig})
    assert mismatch.status_code == 400 and mismatch.json()["error"] == "AMOUNT_MISMATCH"
    for _ in range(3):
        ok = await client.http.post("/callbacks/payment/sandbox", content=body, headers={"x-signature": signature})
        assert ok.status_code == 200 and ok.json() == {"ok": True, "status": "SUCCEEDED"}
    async with app_state.sessionmaker() as session:
        records = (await session.scalar(select(func.count()).select_from(CommissionRecord)))
        stored = await session.scalar(select(Payment).where(Payment.provider_ref == payment.provider_ref))
    assert records == 2 and stored.callback_count == 3


async def test_concurrent_duplicate_callbacks_write_one_set_of_entries(client, app_state):
    order, payment = await _pending_payment(client, app_state)
    body, signature = app_state.payments.callback_body(payment.provider_ref, payment.amount_fen, True)
    responses = await asyncio.gather(*(
        client.http.post("/callbacks/payment/sandbox", content=body, headers={"x-signature": signature})
        for _ in range(8)))
    assert [r.json() for r in responses] == [{"ok": True, "status": "SUCCEEDED"}] * 8
    async with app_state.sessionmaker() as session:
        records = (await session.scalars(select(CommissionRecord))).all()
        entries = await session.scalar(select(func.count()).select_from(LedgerEntry))
        stored = await session.scalar(select(Payment).where(Payment.provider_ref == payment.provider_ref))
    assert sorted(r.amount_fen for r in records) == [617, 1234]  # 10% and 5% of 123.45
    # On PostgreSQL the eight run truly in parallel; the payment row lock lets one through.
    assert entries == 2 and stored.callback_count == 8


async def test_who_sees_which_orders(client, app_state):
    admin, (a, b, c) = await chain(client, app_state, 3)
    stranger = await join(client, nickname="Z")  # a distributor outside that team
    buyer = await customer_of(client, c)
    order = await place_and_pay(client, buyer["accessToken"], await make_sku(client, app_state, price_fen=5000))
    mine = (await client.execute("{ myOrders { nodes { id buyerPhone recipientPhone } } }",
                                 token=buyer["accessToken"]))["myOrders"]["nodes"]
    assert mine == [{"id": order["id"], "buyerPhone": buyer["user"]["phone"], "recipientPhone": "13911112222"}]
    attributed = (await client.execute(ORDER_VIEW, token=c["token"]))["distributorOrders"]["nodes"]
    masked = buyer["user"]["phone"][:3] + "****" + buyer["user"]["phone"][-4:]
    assert attributed == [{"id": order["id"], "status": "PAID", "buyerPhone": masked, "recipient": "王**",
                           "recipientPhone": "139****2222"}]
    assert (await client.execute(ORDER_VIEW, token=a["token"]))["distributorOrders"]["nodes"] == []
    team = (await client.execute(ORDER_VIEW, {"team": True}, token=a["token"]))["distributorOrders"]["nodes"]
    assert [o["id"] for o in team] == [order["id"]]
    assert (await client.execute(ORDER_VIEW, {"team": True}, token=stranger["token"]))["distributorOrders"]["nodes"] == []
    node = "query($id: ID!) { node(id: $id) { ... on Order { id total } } }"
    assert (await client.execute(node, {"id": order["id"]}, token=b["token"]))["node"]["total"] == "50.00"
    assert (await client.execute(node, {"id": order["id"]}, token=stranger["token"]))["node"] is None
    errors = await client.errors("{ orders { nodes { id } } }", token=c["token"])
    assert errors[0]["extensions"]["code"] == "FORBIDDEN"
    staff_token = await finance(client, app_state)
    listed = (await client.execute('{ orders(status: PAID, channel: MINI_PROGRAM) { nodes { id buyerPhone } } }',
                                   token=staff_token))["orders"]["nodes"]
    assert listed == [{"id": order["id"], "buyerPhone": buyer["user"]["phone"]}]
    assert (await client.execute("{ orders(status: SHIPPED) { nodes { id } } }", token=staff_token))["orders"]["nodes"] == []


async def test_shipping_receiving_and_refund_refusals(client, app_state):
    _, (a,) = await chain(client, app_state, 1)
    buyer = await customer_of(client, a)
    staff_token = await finance(client, app_state)
    sku = await make_sku(client, app_state, price_fen=2000)
    unpaid = (await place(client, buyer["accessToken"], sku))["order"]
    ship = {"input": {"orderId": unpaid["id"], "carrier": "顺丰", "trackingNumber": "SF9"}}
    assert (await client.execute(SHIP, ship, token=a["token"]))["shipOrder"]["userErrors"][0]["code"] == "FORBIDDEN"
    assert (await client.execute(SHIP, ship, token=staff_token))["shipOrder"]["userErrors"][0]["code"] == "INVALID_STATE"
    order = await place_and_pay(client, buyer["accessToken"], sku)
    receive = (await client.execute(RECEIVE, {"id": order["id"]}, token=buyer["accessToken"]))["confirmReceipt"]
    assert receive["userErrors"][0]["code"] == "INVALID_STATE"
    shipped = (await client.execute(SHIP, {"input": {**ship["input"], "orderId": order["id"]}}, token=staff_token))
    assert shipped["shipOrder"]["order"] == {"status": "SHIPPED", "carrier": "顺丰", "trackingNumber": "SF9"}
    other = await customer_of(client, a)
    assert (await client.execute(RECEIVE, {"id": order["id"]}, token=other["accessToken"])
            )["confirmReceipt"]["userErrors"][0]["code"] == "NOT_FOUND"
    item = order["items"][0]["id"]
    too_much = (await client.execute(REQUEST_REFUND, {"input": {"orderItemId": item, "amount": "20.01", "reason": "x"}},
                                     token=buyer["accessToken"]))["requestRefund"]
    assert too_much["userErrors"][0] == {"field": "amount", "code": "INVALID_AMOUNT",
                                         "message": "The refund must be more than 0 and at most 2000 fen."}
    first = (await client.execute(REQUEST_REFUND, {"input": {"orderItemId": item, "amount": "15.00", "reason": "x"}},
                                  token=buyer["accessToken"]))["requestRefund"]
    assert first["refund"]["status"] == "REQUESTED"
    pending = (await client.execute(REQUEST_REFUND, {"input": {"orderItemId": item, "amount": "5.01", "reason": "x"}},
                                    token=buyer["accessToken"]))["requestRefund"]
    assert pending["userErrors"][0]["code"] == "INVALID_AMOUNT"
    no_note = (await client.execute(REVIEW_REFUND, {"input": {"refundId": first["refund"]["id"], "approve": False}},
                                    token=staff_token))["reviewRefund"]
    assert no_note["userErrors"][0] == {"field": "note", "code": "REQUIRED", "message": "Say why the refund is refused."}
    rejected = (await client.execute(REVIEW_REFUND, {"input": {"refundId": first["refund"]["id"], "approve": False,
                                                               "note": "已签收"}}, token=staff_token))["reviewRefund"]
    assert rejected["refund"]["status"] == "REJECTED"
    assert (await client.execute(WALLET, token=a["token"]))["wallet"]["frozen"] == "2.00"


async def test_completion_by_job_and_periodic_settlement_with_statements(client, app_state):
    _, (a, b) = await chain(client, app_state, 2)
    staff_token = await finance(client, app_state)
    mode = await client.execute("mutation { commissionSettingsUpdate(input: {settlementMode: PERIODIC}) "
                                "{ settings { settlementMode afterSaleDays } } }", token=staff_token)
    assert mode["commissionSettingsUpdate"]["settings"] == {"settlementMode": "PERIODIC", "afterSaleDays": 7}
    buyer = await customer_of(client, b)
    sku = await make_sku(client, app_state, price_fen=10000)
    order = await place_and_pay(client, buyer["accessToken"], sku)
    await client.execute(SHIP, {"input": {"orderId": order["id"], "carrier": "EMS", "trackingNumber": "E1"}},
                         token=staff_token)
    async with app_state.sessionmaker() as session:
        assert await order_service.complete_shipped(session, utcnow() + timedelta(days=11)) == 1
        # Automatic settlement does nothing in periodic mode.
        assert await commission.settle_due(session, utcnow() + timedelta(days=30)) == 0
        await session.commit()
    run = "mutation($p: String!) { settlementRun(period: $p) { settledRecords statements { period recordCount total } userErrors { field code } } }"
    # Not yet due: the after-sale window counts from completion (now + 11 days in this test).
    early = (await client.execute(run, {"p": "2026-11"}, token=staff_token))["settlementRun"]
    assert early["settledRecords"] == 0
    async with app_state.sessionmaker() as session:
        settled, statements = await commission.run_periodic_settlement(session, None, period="2026-12",
                                                                       now=utcnow() + timedelta(days=19))
        await session.commit()
    assert settled == 2 and sorted(s.total_fen for s in statements) == [500, 1000]
    again = (await client.execute(run, {"p": "2026-12"}, token=staff_token))["settlementRun"]
    assert again["settledRecords"] == 0
    mine = (await client.execute("{ settlementStatements { nodes { period recordCount total } } }",
                                 token=b["token"]))["settlementStatements"]["nodes"]
    assert mine == [{"period": "2026-12", "recordCount": 1, "total": "10.00"}]
    assert (await client.execute(WALLET, token=b["token"]))["wallet"]["available"] == "10.00"
    bad = (await client.execute(run, {"p": "2026-13"}, token=staff_token))["settlementRun"]
    assert bad["userErrors"] == [{"field": "period", "code": "INVALID"}]
    assert (await client.execute(run, {"p": "2026-12"}, token=b["token"]))["settlementRun"]["userErrors"][0]["code"] == "FORBIDDEN"


async def test_concurrent_settlement_runs_settle_once(client, app_state):
    _, (a, b) = await chain(client, app_state, 2)
    staff_token = await finance(client, app_state)
    buyer = await customer_of(client, b)
    sku = await make_sku(client, app_state, price_fen=10000)
    for _ in range(3):
        order = await place_and_pay(client, buyer["accessToken"], sku)
        await client.execute(SHIP, {"input": {"orderId": order["id"], "carrier": "EMS", "trackingNumber": "E"}},
                             token=staff_token)
        await client.execute(RECEIVE, {"id": order["id"]}, token=buyer["accessToken"])
    later = utcnow() + timedelta(days=8)

    async def run():
        async with app_state.writer_sessionmaker() as session:
            done = await commission.settle_due(session, later)
            await session.commit()
            return done

    results = await asyncio.gather(*(run() for _ in range(4)))
    assert sum(results) == 6
    async with app_state.sessionmaker() as session:
        settle_entries = await session.scalar(select(func.count()).select_from(LedgerEntry)
                                              .where(LedgerEntry.kind == "COMMISSION_SETTLED"))
    assert settle_entries == 6
    assert (await client.execute(WALLET, token=b["token"]))["wallet"]["available"] == "30.00"
    assert (await client.execute(WALLET, token=a["token"]))["wallet"]["available"] == "15.00"


async def test_scheduled_jobs_run_together(client, app_state):
    _, (a,) = await chain(client, app_state, 1, protectionDays=1)
    staff_token = await finance(client, app_state)
    buyer = await customer_of(client, a)
    sku = await make_sku(client, app_state, price_fen=1000, stock=3)
    unpaid = (await place(client, buyer["accessToken"], sku))["order"]
    shipped = await place_and_pay(client, buyer["accessToken"], sku)
    await client.execute(SHIP, {"input": {"orderId": shipped["id"], "carrier": "EMS", "trackingNumber": "E1"}},
                         token=staff_token)
    received = await place_and_pay(client, buyer["accessToken"], sku)
    await ship_and_receive(client, staff_token, buyer["accessToken"], received["id"])
    later = utcnow() + timedelta(days=11)
    done = await jobs.run_all(app_state.sessionmaker, later)
    # The unpaid order expires, the shipped one completes (10 days), the received one's commission
    # settles (7 days after completion), the one-day binding ends; no grade or agent term is due.
    assert done == {"expire_unpaid_orders": 1, "complete_shipped_orders": 1, "settle_commission": 1,
                    "release_expired_bindings": 1, "grade_upgrades": 0, "end_agent_terms": 0}
    statuses = [(await client.execute(ORDER_STATUS, {"id": o["id"]}, token=buyer["accessToken"]))["node"]["status"]
                for o in (unpaid, shipped, received)]
    assert statuses == ["CANCELLED", "COMPLETED", "COMPLETED"]
    assert await sku_stock(client, app_state, sku) == 1
    wallet = (await client.execute(WALLET, token=a["token"]))["wallet"]
    assert (wallet["frozen"], wallet["available"]) == ("1.00", "1.00")
    assert (await client.execute("{ customerBinding { source } }", token=buyer["accessToken"]))["customerBinding"] is None
    again = await jobs.run_all(app_state.sessionmaker, later)
    assert again == dict.fromkeys(done, 0)
