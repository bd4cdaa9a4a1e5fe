"""Arranging orders through the API: a network chain, grades, SKUs, orders taken to completion,
settled commission, and the GraphQL documents the tests send."""

from __future__ import annotations

from datetime import UTC, datetime

from core.ids import decode_global_id
from core.money import format_money
from tests.factories import arrive, back_office, create_product, direct_program, join, next_phone, register, staff

PLACE = """
mutation($input: PlaceOrderInput!) {
  placeOrder(input: $input) {
    order { id status total itemsTotal discount attributionSource attributedDistributorId expiresAt
            items { id quantity unitPrice discount paid bandShortfall } }
    userErrors { field code message }
  }
}"""
PAY = """
mutation($input: PayOrderInput!) {
  payOrder(input: $input) { order { id status paidAt } payment { status providerRef amount } userErrors { field code message } }
}"""
RECORDS = """
query($order: ID) { commissionRecords(orderId: $order, first: 100) { nodes {
  id kind tier rule rate base gross capped shortfall originalAmount amount status beneficiaryId } } }"""
WALLET = "{ wallet { frozen available withdrawing withdrawn debt totalEarned } }"
SHIP = """
mutation($input: ShipOrderInput!) { shipOrder(input: $input) { order { status carrier trackingNumber } userErrors { code } } }"""
RECEIVE = "mutation($id: ID!) { confirmReceipt(orderId: $id) { order { status completedAt } userErrors { code message } } }"
REQUEST_REFUND = """
mutation($input: RequestRefundInput!) { requestRefund(input: $input) { refund { id status amount } userErrors { field code message } } }"""
REVIEW_REFUND = """
mutation($input: ReviewRefundInput!) { reviewRefund(input: $input) { refund { id status } userErrors { field code message } } }"""
GRADE_CREATE = """
mutation($input: GradeInput!) { gradeCreate(input: $input) { grade { id } userErrors { code message } } }"""
SET_GRADE = """
mutation($input: DistributorGradeInput!) { distributorGradeSet(input: $input) { userErrors { code message } } }"""
SHIPPING = {"recipient": "王五", "phone": "13911112222", "address": "天河路 1 号",
            "provinceCode": "440000", "cityCode": "440100", "districtCode": "440106"}
SKU_STOCK = "query($id: ID!) { node(id: $id) { ... on Sku { stock } } }"
COMMISSION_SETTINGS = """
mutation($input: CommissionSettingsInput!) {
  commissionSettingsUpdate(input: $input) { settings { afterSaleDays settlementMode } userErrors { field code } }
}"""
SETTLEMENT_RUN = """
mutation($period: String!) { settlementRun(period: $period) { settledRecords userErrors { field code } } }"""
COMMISSION_RULES = """
mutation($input: ProductCommissionRulesInput!) { productCommissionRulesSet(input: $input) { userErrors { code message } } }"""
SHARE_LINK = "mutation { shareLinkCreate(input: {kind: SHARE_LINK}) { shareLink { token } userErrors { code } } }"
MY_GRADE = "{ myDistributor { id grade { id } } }"


async def make_sku(client, app_state, *, price_fen: int, stock: int = 100,
                   band: tuple[int | None, int | None] = (None, None), title: str = "茶叶礼盒") -> dict:
    """An on-shelf, distributable product with one SKU, created by staff through the API."""
    sku_input = {"code": f"SKU{next_phone()}", "price": format_money(price_fen), "stock": stock}
    if band != (None, None):
        sku_input.update(bandMin=format_money(band[0]), bandMax=format_money(band[1]))
    product = await create_product(client, await back_office(client, app_state), title, skus=[sku_input])
    sku_gid = product["skus"][0]["id"]
    return {"product_gid": product["id"], "sku_gid": sku_gid, "sku_id": decode_global_id(sku_gid)[1]}


async def sku_stock(client, app_state, sku: dict) -> int:
    data = await client.execute(SKU_STOCK, {"id": sku["sku_gid"]}, token=await back_office(client, app_state))
    return data["node"]["stock"]


async def grade(client, admin: str, **spec) -> str:
    payload = (await client.execute(GRADE_CREATE, {"input": spec}, token=admin))["gradeCreate"]
    assert payload["userErrors"] == [], payload
    return payload["grade"]["id"]


async def chain(client, app_state, length: int = 4, real_name: str | None = None,
                **program) -> tuple[str, list[dict]]:
    """A direct-join program with commission depth 3 and a chain of `length` distributors, each
    invited by the one before (each verified under `real_name`, if given). Returns the
    MANAGE_DISTRIBUTORS token and the chain."""
    admin = await direct_program(client, app_state, commissionDepth=3, **program)
    await grade(client, admin, name="普通", level=1, tier1Rate=1000, tier2Rate=500, tier3Rate=200)
    members = [await join(client, nickname="A", real_name=real_name)]
    for i in range(1, length):
        members.append(await join(client, members[-1]["invite_code"], nickname="ABCDEFG"[i], real_name=real_name))
    return admin, members


async def customer_of(client, distributor: dict) -> dict:
    """A customer bound to `distributor` through their invite code."""
    user = await register(client)
    await arrive(client, user["accessToken"], inviteCode=distributor["invite_code"])
    return user


async def place(client, token: str, sku: dict, quantity: int = 1, **extra) -> dict:
    variables = {"input": {"channel": "MINI_PROGRAM", "items": [{"skuId": sku["sku_gid"], "quantity": quantity}],
                           "shipping": SHIPPING, **extra}}
    payload = (await client.execute(PLACE, variables, token=token))["placeOrder"]
    return payload


async def place_and_pay(client, token: str, sku: dict, quantity: int = 1, **extra) -> dict:
    payload = await place(client, token, sku, quantity, **extra)
    assert payload["userErrors"] == [], payload["userErrors"]
    order = payload["order"]
    paid = (await client.execute(PAY, {"input": {"orderId": order["id"]}}, token=token))["payOrder"]
    assert paid["userErrors"] == [] and paid["order"]["status"] == "PAID", paid
    return order


async def ship_and_receive(client, staff_token: str, buyer_token: str, order_id: str) -> None:
    """Staff ship a paid order and the buyer confirms receipt: the order is COMPLETED."""
    shipped = (await client.execute(SHIP, {"input": {"orderId": order_id, "carrier": "顺丰", "trackingNumber": "SF1"}},
                                    token=staff_token))["shipOrder"]
    assert shipped["userErrors"] == [], shipped
    received = (await client.execute(RECEIVE, {"id": order_id}, token=buyer_token))["confirmReceipt"]
    assert received["userErrors"] == [] and received["order"]["status"] == "COMPLETED", received


async def completed_order(client, app_state, buyer_token: str, sku: dict, quantity: int = 1, **extra) -> dict:
    """An order placed, paid, shipped by staff and received by the buyer: COMPLETED."""
    order = await place_and_pay(client, buyer_token, sku, quantity, **extra)
    await ship_and_receive(client, await back_office(client, app_state), buyer_token, order["id"])
    return order


async def settle_now(client, staff_token: str) -> int:
    """Close the after-sale window (0 days) and run this month's settlement: every record of a
    completed order settles. Returns how many did."""
    window = (await client.execute(COMMISSION_SETTINGS, {"input": {"afterSaleDays": 0}},
                                   token=staff_token))["commissionSettingsUpdate"]
    assert window["userErrors"] == [], window
    period = datetime.now(UTC).strftime("%Y-%m")
    run = (await client.execute(SETTLEMENT_RUN, {"period": period}, token=staff_token))["settlementRun"]
    assert run["userErrors"] == [], run
    return run["settledRecords"]


async def earn(client, app_state, distributor_token: str, fen: int) -> dict:
    """Make a distributor earn exactly `fen` of settled (available) commission, as in life: staff
    list a product paying `fen` a unit at the distributor's grade, a customer buys one through the
    distributor's share link, the order completes and settles. Returns the sale: order id, its
    item id and the buyer's token."""
    admin = await back_office(client, app_state)
    me = (await client.execute(MY_GRADE, token=distributor_token))["myDistributor"]
    grade_id = me["grade"] and me["grade"]["id"]
    if grade_id is None:
        grades = (await client.execute("{ grades { id } }"))["grades"]
        grade_id = grades[0]["id"] if grades else await grade(client, admin, name="普通", level=1)
        moved = (await client.execute(SET_GRADE, {"input": {"distributorId": me["id"], "gradeId": grade_id,
                                                            "reason": "入门"}}, token=admin))["distributorGradeSet"]
        assert moved["userErrors"] == [], moved
    # Priced at twice the commission, so the default cap (50% of the paid amount) never cuts it.
    sku = await make_sku(client, app_state, price_fen=2 * fen, stock=1)
    rules = await client.execute(COMMISSION_RULES, {"input": {"productId": sku["product_gid"], "rules": [
        {"gradeId": grade_id, "tier": 1, "mode": "FIXED", "fixedAmount": format_money(fen)}]}}, token=admin)
    assert rules["productCommissionRulesSet"]["userErrors"] == [], rules
    link = (await client.execute(SHARE_LINK, token=distributor_token))["shareLinkCreate"]["shareLink"]["token"]
    buyer = (await register(client))["accessToken"]
    order = await completed_order(client, app_state, buyer, sku, shareToken=link)
    assert await settle_now(client, admin) >= 1
    records = (await client.execute(RECORDS, {"order": order["id"]}, token=admin))["commissionRecords"]["nodes"]
    assert [(r["beneficiaryId"], r["amount"], r["status"]) for r in records if r["tier"] == 1] == [
        (me["id"], format_money(fen), "SETTLED")], records
    return {"order_id": order["id"], "item_id": order["items"][0]["id"], "buyer_token": buyer}


async def finance(client, app_state) -> str:
    return (await staff(client, app_state, {"MANAGE_FINANCE", "MANAGE_ORDERS"}))["accessToken"]


def pk(global_id: str) -> int:
    return decode_global_id(global_id)[1]
