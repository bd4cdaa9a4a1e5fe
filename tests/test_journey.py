"""One sale from the shop to the distributor's bank card, entirely through the front door: the
GraphQL API, plus the callback URLs where a payment or payout provider answers. Back-office staff
set everything up, a distributor chain shares, a mini-program customer buys; the amounts are
checked to the fen at every step."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from core.money import parse_money
from models.withdrawal import PayoutResultStatus
from tests.factories import APPLY, VALID_ID_CARD, WECHAT_LOGIN, arrive, register, set_program, staff
from tests.order_support import GRADE_CREATE, PAY, PLACE, RECEIVE, RECORDS, SHIP, SHIPPING, WALLET
from tests.withdrawal_support import (
    ADD,
    APPROVE,
    OVERVIEW,
    REQUEST,
    SETTINGS_UPDATE,
    post_payout_callback,
)

CATEGORY = 'mutation { categoryCreate(input: {name: "绿茶"}) { category { id } userErrors { code } } }'
PRODUCT = """
mutation($input: ProductInput!) {
  productCreate(input: $input) { product { id skus { id code listPrice stock } } userErrors { field code message } }
}"""
MY_PRICE = """
mutation($input: DistributorPriceInput!) {
  distributorPriceSet(input: $input) { distributorPrice { price inBand } userErrors { field code message } }
}"""
SHOP = """query($id: ID!, $via: String) { product(id: $id, via: $via) { title skus { code listPrice price } } }"""
ME = "{ myDistributor { id status inviteCode grade { name } personalSales upline { id } } }"
BINDING = "{ customerBinding { source distributorNickname } }"
ORDER = "query($id: ID!) { node(id: $id) { ... on Order { status total paidAt completedAt } } }"
COMMISSION_SETTINGS = """
mutation($input: CommissionSettingsInput!) {
  commissionSettingsUpdate(input: $input) { settings { afterSaleDays cap } userErrors { field code } }
}"""
SETTLE = """
mutation($period: String!) {
  settlementRun(period: $period) { settledRecords statements { period recordCount total } userErrors { field code } }
}"""
STATEMENTS = "{ settlementStatements { nodes { period recordCount total } } }"
REQUESTED = "{ withdrawals(filter: {status: REQUESTED}) { nodes { id amount fee net accountNumber } } }"
MY_WITHDRAWALS = "{ myWithdrawals { nodes { id status amount fee net paidAt accountNumber } } }"
LEDGER = "{ wallet { ledger(first: 20) { nodes { kind frozenChange availableChange withdrawingChange withdrawnChange } } } }"
RECONCILE = """
query($from: DateTime!, $to: DateTime!) {
  withdrawalReconciliation(from: $from, to: $to) { paidCount paid paidNet fees inFlightCount mismatches { kind } }
}"""


def ok(payload: dict) -> dict:
    assert payload["userErrors"] == [], payload["userErrors"]
    return payload


async def wallet(client, token: str) -> tuple[str, str, str, str, str, str]:
    """(frozen, available, withdrawing, withdrawn, debt, totalEarned)"""
    w = (await client.execute(WALLET, token=token))["wallet"]
    return w["frozen"], w["available"], w["withdrawing"], w["withdrawn"], w["debt"], w["totalEarned"]


async def distributor(client, nickname: str, real_name: str, invite_code: str | None = None) -> dict:
    """Someone who signs up, arrives through an upline's invite code (if any) and joins with their
    real name and ID card."""
    user = await register(client, nickname=nickname)
    token = user["accessToken"]
    if invite_code:
        assert (await arrive(client, token, inviteCode=invite_code))["bound"] is True
    applied = ok((await client.execute(APPLY, {"input": {"agreementVersion": "2", "realName": real_name,
                                                          "idCardNumber": VALID_ID_CARD}}, token=token))
                 ["distributorApply"])
    assert applied["application"]["distributor"]["status"] == "ACTIVE"
    return {"token": token, **(await client.execute(ME, token=token))["myDistributor"]}


async def test_order_to_payout_through_the_front_door(client, app_state, settings):
    # The back office. The first staff account comes from the admin command (app.py create-staff);
    # everything after it goes through the API.
    office = (await staff(client, app_state))["accessToken"]
    program = await set_program(client, office, joinMode="DIRECT", commissionDepth=2, bindingMode="FIRST_TOUCH",
                                protectionDays=30, agreementVersion="2", requireRealName=True)
    assert (program["joinMode"], program["commissionDepth"], program["agreementVersion"]) == ("DIRECT", 2, "2")
    for spec in ({"name": "普通", "level": 1, "tier1Rate": 1000, "tier2Rate": 500},
                 {"name": "银牌", "level": 2, "tier1Rate": 1200, "tier2Rate": 600, "minPersonalSales": "500.00"}):
        ok((await client.execute(GRADE_CREATE, {"input": spec}, token=office))["gradeCreate"])
    category = ok((await client.execute(CATEGORY, token=office))["categoryCreate"])["category"]["id"]
    product = ok((await client.execute(PRODUCT, {"input": {
        "title": "明前龙井", "categoryId": category, "onShelf": True, "distributable": True,
        "skus": [{"code": "LJ-250", "price": "268.00", "stock": 50, "bandMin": "240.00", "bandMax": "300.00"}],
    }}, token=office))["productCreate"])["product"]
    sku = product["skus"][0]
    assert (sku["listPrice"], sku["stock"]) == ("268.00", 50)
    fees = ok((await client.execute(SETTINGS_UPDATE, {"input": {"feeRate": 60, "feeMinimum": "1.00"}},
                                    token=office))["withdrawalSettingsUpdate"])["settings"]
    assert (fees["feeRate"], fees["feeMinimum"], fees["minAmount"]) == (60, "1.00", "1.00")

    # The distributor chain: 王芳 joins, 李娜 joins through her invite code; both start at 普通.
    upline = await distributor(client, "王芳", "王芳")
    seller = await distributor(client, "李娜", "李娜", upline["inviteCode"])
    assert seller["upline"] == {"id": upline["id"]} and seller["grade"] == {"name": "普通"}
    # 李娜 prices the tea inside its band and shares her invite code.
    assert ok((await client.execute(MY_PRICE, {"input": {"skuId": sku["id"], "price": "258.88"}},
                                    token=seller["token"]))["distributorPriceSet"])["distributorPrice"] == {
        "price": "258.88", "inBand": True}

    # A mini-program customer opens the shared page, is bound to 李娜 through the code, and orders two.
    customer = (await client.execute(WECHAT_LOGIN, {"input": {"code": "journey-customer", "nickname": "小周"}},
                                     headers={"x-client": "MINI_PROGRAM"}))["wechatLogin"]
    buyer = customer["accessToken"]
    page = (await client.execute(SHOP, {"id": product["id"], "via": seller["inviteCode"]}))["product"]
    assert page == {"title": "明前龙井", "skus": [{"code": "LJ-250", "listPrice": "268.00", "price": "258.88"}]}
    bound = await arrive(client, buyer, inviteCode=seller["inviteCode"])
    assert bound["bound"] is True and bound["userErrors"] == []
    assert (await client.execute(BINDING, token=buyer))["customerBinding"] == {
        "source": "INVITE_CODE", "distributorNickname": "李娜"}
    placed = ok((await client.execute(PLACE, {"input": {
        "channel": "MINI_PROGRAM", "items": [{"skuId": sku["id"], "quantity": 2}], "shipping": SHIPPING,
        "idempotencyKey": "cart-journey"}}, token=buyer))["placeOrder"])["order"]
    assert (placed["status"], placed["itemsTotal"], placed["total"]) == ("PENDING_PAYMENT", "517.76", "517.76")
    assert (placed["attributionSource"], placed["attributedDistributorId"]) == ("BINDING", seller["id"])
    assert [(i["quantity"], i["unitPrice"], i["paid"]) for i in placed["items"]] == [(2, "258.88", "517.76")]

    # Payment through the sandbox provider; its notification, delivered again, changes nothing.
    paid = ok((await client.execute(PAY, {"input": {"orderId": placed["id"]}}, token=buyer))["payOrder"])
    assert paid["order"]["status"] == "PAID"
    assert (paid["payment"]["status"], paid["payment"]["amount"]) == ("SUCCEEDED", "517.76")
    body, signature = app_state.payments.callback_body(paid["payment"]["providerRef"],
                                                       parse_money(paid["payment"]["amount"]), True)
    replay = await client.http.post("/callbacks/payment/sandbox", content=body, headers={"x-signature": signature})
    assert (replay.status_code, replay.json()) == (200, {"ok": True, "status": "SUCCEEDED"})

    # Commission, frozen: 10% and 5% of 517.76, each rounded down to the fen.
    records = (await client.execute(RECORDS, {"order": placed["id"]}, token=office))["commissionRecords"]["nodes"]
    assert sorted((r["tier"], r["beneficiaryId"], r["rate"], r["base"], r["gross"], r["amount"], r["status"])
                  for r in records) == [(1, seller["id"], 1000, "517.76", "51.77", "51.77", "FROZEN"),
                                        (2, upline["id"], 500, "517.76", "25.88", "25.88", "FROZEN")]
    assert await wallet(client, seller["token"]) == ("51.77", "0.00", "0.00", "0.00", "0.00", "51.77")
    assert await wallet(client, upline["token"]) == ("25.88", "0.00", "0.00", "0.00", "0.00", "25.88")

    # Staff ship; the customer confirms receipt; 李娜's sales lift her to 银牌.
    shipped = ok((await client.execute(SHIP, {"input": {"orderId": placed["id"], "carrier": "顺丰",
                                                        "trackingNumber": "SF1234567890"}}, token=office))["shipOrder"])
    assert shipped["order"]["status"] == "SHIPPED"
    received = ok((await client.execute(RECEIVE, {"id": placed["id"]}, token=buyer))["confirmReceipt"])
    assert received["order"]["status"] == "COMPLETED" and received["order"]["completedAt"]
    me = (await client.execute(ME, token=seller["token"]))["myDistributor"]
    assert (me["grade"], me["personalSales"]) == ({"name": "银牌"}, "517.76")
    assert await wallet(client, seller["token"]) == ("51.77", "0.00", "0.00", "0.00", "0.00", "51.77")

    # Settlement: nothing is due inside the 7-day after-sale window; with the window at 0 it settles.
    period = datetime.now(UTC).strftime("%Y-%m")
    early = ok((await client.execute(SETTLE, {"period": period}, token=office))["settlementRun"])
    assert (early["settledRecords"], early["statements"]) == (0, [])
    window = ok((await client.execute(COMMISSION_SETTINGS, {"input": {"afterSaleDays": 0}},
                                      token=office))["commissionSettingsUpdate"])
    assert window["settings"] == {"afterSaleDays": 0, "cap": 5000}
    run = ok((await client.execute(SETTLE, {"period": period}, token=office))["settlementRun"])
    assert run["settledRecords"] == 2
    assert sorted((s["recordCount"], s["total"]) for s in run["statements"]) == [(1, "25.88"), (1, "51.77")]
    again = ok((await client.execute(SETTLE, {"period": period}, token=office))["settlementRun"])
    assert again["settledRecords"] == 0
    assert (await client.execute(STATEMENTS, token=seller["token"]))["settlementStatements"]["nodes"] == [
        {"period": period, "recordCount": 1, "total": "51.77"}]
    assert await wallet(client, seller["token"]) == ("0.00", "51.77", "0.00", "0.00", "0.00", "51.77")
    assert await wallet(client, upline["token"]) == ("0.00", "25.88", "0.00", "0.00", "0.00", "25.88")

    # 李娜 adds her bank card (this bank answers the payout later) and withdraws 50.00:
    # 0.6% is 0.30, so the 1.00 minimum fee applies and 49.00 arrives.
    card = ok((await client.execute(ADD, {"input": {
        "method": "BANK_CARD", "holderName": "李娜", "accountNumber": "6222 0212 3456 4003",
        "bankName": "工商银行", "branchName": "杭州分行"}}, token=seller["token"]))["payoutAccountAdd"])
    assert card["payoutAccount"]["accountNumber"] == "6222 **** **** 4003" and card["payoutAccount"]["isDefault"]
    requested = ok((await client.execute(REQUEST, {"input": {"amount": "50.00", "idempotencyKey": "wd-journey"}},
                                         token=seller["token"]))["withdrawalRequest"])["withdrawal"]
    assert (requested["status"], requested["amount"], requested["fee"], requested["net"]) == (
        "REQUESTED", "50.00", "1.00", "49.00")
    assert await wallet(client, seller["token"]) == ("0.00", "1.77", "50.00", "0.00", "0.00", "51.77")
    assert (await client.execute(OVERVIEW, token=seller["token"]))["myWithdrawalOverview"]["todayAmount"] == "50.00"

    # Finance sees the request with the full account number and approves it; the bank has not answered yet.
    queue = (await client.execute(REQUESTED, token=office))["withdrawals"]["nodes"]
    assert queue == [{"id": requested["id"], "amount": "50.00", "fee": "1.00", "net": "49.00",
                      "accountNumber": "6222021234564003"}]
    paying = ok((await client.execute(APPROVE, {"input": {"id": requested["id"], "note": "核对无误"}},
                                      token=office))["withdrawalApprove"])["withdrawal"]
    assert paying["status"] == "PAYING" and paying["providerReference"]
    assert await wallet(client, seller["token"]) == ("0.00", "1.77", "50.00", "0.00", "0.00", "51.77")

    # The bank's signed answer arrives at the payout callback; a replay changes nothing.
    answered = await post_payout_callback(client, settings, paying["providerReference"], PayoutResultStatus.PAID)
    assert (answered.status_code, answered.json()) == (200, {"ok": True, "changed": True, "status": "PAID"})
    replayed = await post_payout_callback(client, settings, paying["providerReference"], PayoutResultStatus.PAID)
    assert replayed.json() == {"ok": True, "changed": False, "status": "PAID"}

    # Where everything ended.
    mine = (await client.execute(MY_WITHDRAWALS, token=seller["token"]))["myWithdrawals"]["nodes"]
    assert [(w["id"], w["status"], w["amount"], w["fee"], w["net"], w["accountNumber"]) for w in mine] == [
        (requested["id"], "PAID", "50.00", "1.00", "49.00", "6222 **** **** 4003")] and mine[0]["paidAt"]
    assert await wallet(client, seller["token"]) == ("0.00", "1.77", "0.00", "50.00", "0.00", "51.77")
    assert await wallet(client, upline["token"]) == ("0.00", "25.88", "0.00", "0.00", "0.00", "25.88")
    entries = (await client.execute(LEDGER, token=seller["token"]))["wallet"]["ledger"]["nodes"]
    assert [(e["kind"], e["frozenChange"], e["availableChange"], e["withdrawingChange"], e["withdrawnChange"])
            for e in entries] == [
        ("WITHDRAWAL_PAID", "0.00", "0.00", "-50.00", "50.00"),
        ("WITHDRAWAL_REQUESTED", "0.00", "-50.00", "50.00", "0.00"),
        ("COMMISSION_SETTLED", "-51.77", "51.77", "0.00", "0.00"),
        ("COMMISSION_FROZEN", "51.77", "0.00", "0.00", "0.00")]
    records = (await client.execute(RECORDS, {"order": placed["id"]}, token=office))["commissionRecords"]["nodes"]
    assert sorted((r["tier"], r["amount"], r["status"]) for r in records) == [(1, "51.77", "SETTLED"),
                                                                               (2, "25.88", "SETTLED")]
    order = (await client.execute(ORDER, {"id": placed["id"]}, token=buyer))["node"]
    assert (order["status"], order["total"]) == ("COMPLETED", "517.76")
    now = datetime.now(UTC)
    day = {"from": (now - timedelta(hours=1)).isoformat(), "to": (now + timedelta(hours=1)).isoformat()}
    books = (await client.execute(RECONCILE, day, token=office))["withdrawalReconciliation"]
    assert books == {"paidCount": 1, "paid": "50.00", "paidNet": "49.00", "fees": "1.00", "inFlightCount": 0,
                     "mismatches": []}
