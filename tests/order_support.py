"""Arranging orders: a network chain, grades, SKUs, and the GraphQL documents the tests send."""

from __future__ import annotations

from core.ids import decode_global_id, encode_global_id
from models.catalog import Product, Sku
from tests.factories import direct_program, join, staff

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


async def make_sku(app_state, *, price_fen: int, stock: int = 100, band: tuple[int | None, int | None] = (None, None),
                   title: str = "茶叶礼盒") -> dict:
    async with app_state.writer_sessionmaker() as session:
        product = Product(title=title, on_shelf=True, distributable=True, image_urls=[])
        session.add(product)
        await session.flush()
        sku = Sku(product_id=product.id, code=f"SKU-{product.id}", attributes={}, price_fen=price_fen, stock=stock,
                  band_min_fen=band[0], band_max_fen=band[1])
        session.add(sku)
        await session.commit()
        return {"product_id": product.id, "sku_id": sku.id, "sku_gid": encode_global_id("Sku", sku.id)}


async def grade(client, admin: str, **spec) -> str:
    payload = (await client.execute(GRADE_CREATE, {"input": spec}, token=admin))["gradeCreate"]
    assert payload["userErrors"] == [], payload
    return payload["grade"]["id"]


async def chain(client, app_state, length: int = 4, **program) -> tuple[str, list[dict]]:
    """A direct-join program with commission depth 3 and a chain of `length` distributors, each
    invited by the one before. Returns the MANAGE_DISTRIBUTORS token and the chain."""
    admin = await direct_program(client, app_state, commissionDepth=3, **program)
    await grade(client, admin, name="普通", level=1, tier1Rate=1000, tier2Rate=500, tier3Rate=200)
    members = [await join(client, nickname="A")]
    for i in range(1, length):
        members.append(await join(client, members[-1]["invite_code"], nickname="ABCDEFG"[i]))
    return admin, members


async def customer_of(client, distributor: dict) -> dict:
    """A customer bound to `distributor` through their invite code."""
    from tests.factories import arrive, register

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


async def finance(client, app_state) -> str:
    return (await staff(client, app_state, {"MANAGE_FINANCE", "MANAGE_ORDERS"}))["accessToken"]


def pk(global_id: str) -> int:
    return decode_global_id(global_id)[1]
