"""The worked example and the commission rules, through the GraphQL API."""

from __future__ import annotations

from datetime import date, timedelta

from services import region
from tests.factories import set_program, staff
from tests.order_support import (
    PAY,
    RECORDS,
    REQUEST_REFUND,
    REVIEW_REFUND,
    SET_GRADE,
    WALLET,
    chain,
    customer_of,
    finance,
    grade,
    make_sku,
    pk,
    place,
    place_and_pay,
    settle_now,
    ship_and_receive,
)
from tests.withdrawal_support import CARD, add, request

STATUS = """
mutation($input: DistributorStatusInput!) { distributorStatusUpdate(input: $input) { userErrors { code message } } }"""


async def _records(client, token, order_id):
    return (await client.execute(RECORDS, {"order": order_id}, token=token))["commissionRecords"]["nodes"]


async def _refund(client, buyer_token, staff_token, item_id, amount):
    requested = (await client.execute(REQUEST_REFUND, {"input": {"orderItemId": item_id, "amount": amount,
                                                                 "reason": "少了一半"}}, token=buyer_token))
    refund = requested["requestRefund"]
    assert refund["userErrors"] == [], refund
    reviewed = await client.execute(REVIEW_REFUND, {"input": {"refundId": refund["refund"]["id"], "approve": True}},
                                    token=staff_token)
    assert reviewed["reviewRefund"]["userErrors"] == [], reviewed
    return refund["refund"]


async def test_worked_example_from_the_seeds(client, app_state):
    """A invites B, B invites C, C invites D, D invites E; E buys: D, C and B earn tiers 1-3 at their
    grades and A earns nothing; E refunds half and the commissions shrink to the fen."""
    admin, (a, b, c, d) = await chain(client, app_state, 4)
    silver = await grade(client, admin, name="银牌", level=2, tier1Rate=1200, tier2Rate=600, tier3Rate=300)
    moved = await client.execute(SET_GRADE, {"input": {"distributorId": c["id"], "gradeId": silver,
                                                      "reason": "示例"}}, token=admin)
    assert moved["distributorGradeSet"]["userErrors"] == []
    e = await customer_of(client, d)
    sku = await make_sku(client, app_state, price_fen=9999)
    order = await place_and_pay(client, e["accessToken"], sku, quantity=2)
    assert order["total"] == "199.98" and order["attributionSource"] == "BINDING"
    assert order["attributedDistributorId"] == d["id"]

    money = await finance(client, app_state)
    records = await _records(client, money, order["id"])
    earned = {r["beneficiaryId"]: (r["tier"], r["rule"], r["rate"], r["base"], r["amount"], r["status"]) for r in records}
    assert earned == {
        d["id"]: (1, "GRADE_RATE", 1000, "199.98", "19.99", "FROZEN"),   # 19998 x 10% = 1999.8 -> 1999
        c["id"]: (2, "GRADE_RATE", 600, "199.98", "11.99", "FROZEN"),    # silver tier 2: 6%
        b["id"]: (3, "GRADE_RATE", 200, "199.98", "3.99", "FROZEN"),
    }
    assert a["id"] not in earned
    for member, frozen in ((d, "19.99"), (c, "11.99"), (b, "3.99"), (a, "0.00")):
        wallet = (await client.execute(WALLET, token=member["token"]))["wallet"]
        assert wallet["frozen"] == frozen and wallet["available"] == "0.00" and wallet["totalEarned"] == frozen

    item_id = order["items"][0]["id"]
    await _refund(client, e["accessToken"], money, item_id, "99.99")
    after = {r["beneficiaryId"]: (r["originalAmount"], r["amount"]) for r in await _records(client, money, order["id"])}
    assert after == {d["id"]: ("19.99", "9.99"), c["id"]: ("11.99", "5.99"), b["id"]: ("3.99", "1.99")}
    assert (await client.execute(WALLET, token=d["token"]))["wallet"]["frozen"] == "9.99"

    await _refund(client, e["accessToken"], money, item_id, "99.99")
    final = await _records(client, money, order["id"])
    assert {r["amount"] for r in final} == {"0.00"} and {r["status"] for r in final} == {"REVERSED"}
    for member in (d, c, b):
        wallet = (await client.execute(WALLET, token=member["token"]))["wallet"]
        assert wallet == {"frozen": "0.00", "available": "0.00", "withdrawing": "0.00", "withdrawn": "0.00",
                          "debt": "0.00", "totalEarned": "0.00"}


async def test_inactive_beneficiary_is_skipped_and_nobody_moves_up(client, app_state):
    admin, (a, b, c, d) = await chain(client, app_state, 4)
    frozen = await client.execute(STATUS, {"input": {"distributorId": c["id"], "status": "FROZEN",
                                                     "reason": "违规"}}, token=admin)
    assert frozen["distributorStatusUpdate"]["userErrors"] == []
    e = await customer_of(client, d)
    order = await place_and_pay(client, e["accessToken"], await make_sku(client, app_state, price_fen=10000))
    records = await _records(client, await finance(client, app_state), order["id"])
    assert sorted((r["tier"], r["beneficiaryId"], r["amount"]) for r in records) == [
        (1, d["id"], "10.00"), (3, b["id"], "2.00")]


async def test_cap_cuts_shares_in_tier_order_and_records_the_cut(client, app_state):
    admin, (a, b, c, d) = await chain(client, app_state, 4)
    money = await finance(client, app_state)
    updated = await client.execute("mutation { commissionSettingsUpdate(input: {cap: 1200}) { settings { cap } "
                                   "userErrors { code } } }", token=money)
    assert updated["commissionSettingsUpdate"]["settings"] == {"cap": 1200}
    e = await customer_of(client, d)
    order = await place_and_pay(client, e["accessToken"], await make_sku(client, app_state, price_fen=10000))
    records = {r["tier"]: (r["gross"], r["capped"], r["amount"]) for r in await _records(client, money, order["id"])}
    # cap 12% of 100.00 = 12.00: tier 1 gets 10.00, tier 2 is cut from 5.00 to 2.00, tier 3 gets nothing.
    assert records == {1: ("10.00", "0.00", "10.00"), 2: ("5.00", "3.00", "2.00"), 3: ("2.00", "2.00", "0.00")}


async def test_program_depth_limits_tiers(client, app_state):
    admin, (a, b, c, d) = await chain(client, app_state, 4)
    await set_program(client, admin, commissionDepth=1)
    e = await customer_of(client, d)
    order = await place_and_pay(client, e["accessToken"], await make_sku(client, app_state, price_fen=10000))
    records = await _records(client, await finance(client, app_state), order["id"])
    assert [(r["tier"], r["beneficiaryId"]) for r in records] == [(1, d["id"])]


async def test_self_purchase_with_discount_below_band_floor(client, app_state):
    admin, (a, b) = await chain(client, app_state, 2, selfPurchaseCommission=True)
    gold = await grade(client, admin, name="金牌", level=2, tier1Rate=1000, tier2Rate=500, discount=2000)
    await client.execute(SET_GRADE, {"input": {"distributorId": b["id"], "gradeId": gold, "reason": "示例"}},
                         token=admin)
    sku = await make_sku(client, app_state, price_fen=10000, band=(9000, 12000))
    order = await place_and_pay(client, b["token"], sku, quantity=1)
    # 20% off 100.00 is 80.00, 10.00 below the band floor of 90.00: B covers it from their commission.
    assert order["attributionSource"] == "SELF_PURCHASE"
    assert order["items"][0]["paid"] == "80.00" and order["items"][0]["bandShortfall"] == "10.00"
    records = {r["tier"]: (r["beneficiaryId"], r["gross"], r["shortfall"], r["amount"])
               for r in await _records(client, await finance(client, app_state), order["id"])}
    assert records == {1: (b["id"], "8.00", "8.00", "0.00"), 2: (a["id"], "4.00", "0.00", "4.00")}


async def test_share_token_attribution_wins_over_binding(client, app_state):
    admin, (a, b) = await chain(client, app_state, 2)
    link = await client.execute("mutation { shareLinkCreate(input: {kind: SHARE_LINK}) { shareLink { token } userErrors { code } } }",
                                token=a["token"])
    token = link["shareLinkCreate"]["shareLink"]["token"]
    e = await customer_of(client, b)
    order = await place_and_pay(client, e["accessToken"], await make_sku(client, app_state, price_fen=5000), shareToken=token)
    assert order["attributionSource"] == "SHARE_TOKEN" and order["attributedDistributorId"] == a["id"]


async def test_refund_after_settlement_creates_debt_that_future_commission_repays(client, app_state):
    admin, (a, b) = await chain(client, app_state, 2, real_name="张三")
    money = await finance(client, app_state)
    e = await customer_of(client, b)
    sku = await make_sku(client, app_state, price_fen=10000)
    order = await place_and_pay(client, e["accessToken"], sku)
    await ship_and_receive(client, money, e["accessToken"], order["id"])
    assert await settle_now(client, money) == 2
    wallet = (await client.execute(WALLET, token=b["token"]))["wallet"]
    assert (wallet["frozen"], wallet["available"]) == ("0.00", "10.00")
    # B asks to withdraw it all; then a full refund claws back 10.00 that is no longer available.
    assert (await add(client, b["token"], **CARD))["userErrors"] == []
    assert (await request(client, b["token"], "10.00"))["withdrawal"]["status"] == "REQUESTED"
    await _refund(client, e["accessToken"], money, order["items"][0]["id"], "100.00")
    wallet = (await client.execute(WALLET, token=b["token"]))["wallet"]
    assert (wallet["available"], wallet["withdrawing"], wallet["debt"], wallet["totalEarned"]) == (
        "0.00", "10.00", "10.00", "0.00")
    # The next commission B earns repays the debt before anything becomes available.
    second = await place_and_pay(client, e["accessToken"], sku, quantity=2)
    await ship_and_receive(client, money, e["accessToken"], second["id"])
    assert await settle_now(client, money) == 2
    wallet = (await client.execute(WALLET, token=b["token"]))["wallet"]
    assert (wallet["frozen"], wallet["available"], wallet["debt"]) == ("0.00", "10.00", "0.00")


async def test_payment_refusals(client, app_state):
    admin, (a,) = await chain(client, app_state, 1)
    e = await customer_of(client, a)
    other = await customer_of(client, a)
    sku = await make_sku(client, app_state, price_fen=1000, stock=1)
    placed = await place(client, e["accessToken"], sku)
    order_id = placed["order"]["id"]
    stranger = (await client.execute(PAY, {"input": {"orderId": order_id}}, token=other["accessToken"]))["payOrder"]
    assert stranger["userErrors"][0]["code"] == "NOT_FOUND"
    failed = (await client.execute(PAY, {"input": {"orderId": order_id, "sandboxOutcome": "FAIL"}},
                                   token=e["accessToken"]))["payOrder"]
    assert failed["order"]["status"] == "PENDING_PAYMENT" and failed["payment"]["status"] == "FAILED"
    twice = (await client.execute(PAY, {"input": {"orderId": order_id, "sandboxOutcome": "CALLBACK_TWICE"}},
                                  token=e["accessToken"]))["payOrder"]
    assert twice["order"]["status"] == "PAID"
    again = (await client.execute(PAY, {"input": {"orderId": order_id}}, token=e["accessToken"]))["payOrder"]
    assert again["userErrors"][0]["code"] == "INVALID_STATE"
    records = await _records(client, await finance(client, app_state), order_id)
    assert len(records) == 1  # one set, despite the double callback


AGENT_APPLY = """
mutation($input: RegionalAgentApplyInput!) { regionalAgentApply(input: $input) { agent { id } userErrors { code } } }"""
AGENT_REVIEW = """
mutation($input: RegionalAgentReviewInput!) { regionalAgentReview(input: $input) { userErrors { code message } } }"""


async def test_regional_agent_earns_and_sees_orders_shipped_into_the_region(client, app_state):
    async with app_state.sessionmaker() as session:  # reference data: the API has no way in
        await region.load_regions(session)
        await session.commit()
    admin, (a, b) = await chain(client, app_state, 2)
    applied = (await client.execute(AGENT_APPLY, {"input": {"regionCode": "440106"}}, token=a["token"]))
    agent_id = applied["regionalAgentApply"]["agent"]["id"]
    today = date.today()
    reviewed = await client.execute(AGENT_REVIEW, {"input": {
        "agentId": agent_id, "approve": True, "rate": 100, "startsOn": (today - timedelta(days=1)).isoformat(),
        "endsOn": (today + timedelta(days=365)).isoformat()}}, token=admin)
    assert reviewed["regionalAgentReview"]["userErrors"] == []
    buyer = await customer_of(client, b)
    order = await place_and_pay(client, buyer["accessToken"], await make_sku(client, app_state, price_fen=10000))
    records = {(r["kind"], r["beneficiaryId"]): r["amount"]
               for r in await _records(client, await finance(client, app_state), order["id"])}
    assert records == {("TIER", b["id"]): "10.00", ("TIER", a["id"]): "5.00", ("REGION", a["id"]): "1.00"}
    query = "query($c: String!) { regionOrders(regionCode: $c) { nodes { id buyerPhone } } }"
    seen = (await client.execute(query, {"c": "440106"}, token=a["token"]))["regionOrders"]["nodes"]
    assert [o["id"] for o in seen] == [order["id"]] and "****" in seen[0]["buyerPhone"]
    # An agent of a district does not see the whole province.
    errors = await client.errors(query, {"c": "440000"}, token=a["token"])
    assert errors[0]["extensions"]["code"] == "FORBIDDEN"
    errors = await client.errors(query, {"c": "440106"}, token=b["token"])
    assert errors[0]["extensions"]["code"] == "FORBIDDEN"


async def test_completion_feeds_grade_upgrades(client, app_state):
    admin, (a, b) = await chain(client, app_state, 2)
    await grade(client, admin, name="银牌", level=2, tier1Rate=1200, minPersonalSales="100.00")
    buyer = await customer_of(client, b)
    order = await place_and_pay(client, buyer["accessToken"], await make_sku(client, app_state, price_fen=10000))
    me = "{ myDistributor { grade { name } personalSales } }"
    assert (await client.execute(me, token=b["token"]))["myDistributor"]["grade"]["name"] == "普通"
    money = await finance(client, app_state)
    await client.execute("mutation($i: ShipOrderInput!) { shipOrder(input: $i) { userErrors { code } } }",
                         {"i": {"orderId": order["id"], "carrier": "顺丰", "trackingNumber": "SF"}}, token=money)
    await client.execute("mutation($id: ID!) { confirmReceipt(orderId: $id) { userErrors { code } } }",
                         {"id": order["id"]}, token=buyer["accessToken"])
    upgraded = (await client.execute(me, token=b["token"]))["myDistributor"]
    assert upgraded == {"grade": {"name": "银牌"}, "personalSales": "100.00"}
    await _refund(client, buyer["accessToken"], money, order["items"][0]["id"], "40.00")
    assert (await client.execute(me, token=b["token"]))["myDistributor"]["personalSales"] == "60.00"


async def test_product_override_fixed_per_unit_and_the_ledger_by_kind(client, app_state):
    admin, (a, b) = await chain(client, app_state, 2)
    grades = (await client.execute("{ grades { id level } }"))["grades"]
    ordinary = next(g["id"] for g in grades if g["level"] == 1)
    sku = await make_sku(client, app_state, price_fen=10000)
    catalog = (await staff(client, app_state, {"MANAGE_CATALOG"}))["accessToken"]
    rules = await client.execute(
        "mutation($i: ProductCommissionRulesInput!) { productCommissionRulesSet(input: $i) { userErrors { code message } } }",
        {"i": {"productId": sku["product_gid"],
               "rules": [{"gradeId": ordinary, "tier": 1, "mode": "FIXED", "fixedAmount": "3.50"},
                         {"gradeId": ordinary, "tier": 2, "mode": "PERCENT", "rate": 150}]}}, token=catalog)
    assert rules["productCommissionRulesSet"]["userErrors"] == []
    buyer = await customer_of(client, b)
    order = await place_and_pay(client, buyer["accessToken"], sku, quantity=3)
    records = {r["tier"]: (r["rule"], r["rate"], r["amount"])
               for r in await _records(client, await finance(client, app_state), order["id"])}
    # Tier 1: 3.50 per unit x 3; tier 2: 1.5% of 300.00.
    assert records == {1: ("PRODUCT_FIXED", None, "10.50"), 2: ("PRODUCT_PERCENT", 150, "4.50")}
    ledger = """query($kind: LedgerKind) { wallet { ledger(kind: $kind, first: 10) {
        nodes { kind frozenChange availableChange memo } pageInfo { hasNextPage } } } }"""
    frozen = (await client.execute(ledger, {"kind": "COMMISSION_FROZEN"}, token=b["token"]))["wallet"]["ledger"]
    assert frozen["nodes"] == [{"kind": "COMMISSION_FROZEN", "frozenChange": "10.50", "availableChange": "0.00",
                                "memo": f"order {pk(order['id'])}"}]
    assert (await client.execute(ledger, {"kind": "COMMISSION_SETTLED"}, token=b["token"]))["wallet"]["ledger"]["nodes"] == []
