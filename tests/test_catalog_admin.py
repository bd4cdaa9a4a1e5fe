"""The catalog through the GraphQL API: staff edit suppliers, categories, products and SKUs;
customers browse on-shelf products; stock adjustments; the CSV export."""

from __future__ import annotations

import csv
import io

from sqlalchemy import select

from models.audit import AuditEntry
from tests.factories import PRODUCT_CREATE, catalog_staff, create_product, register, staff

SUPPLIER = """
mutation($input: SupplierInput!) { supplierCreate(input: $input) { supplier { id name contact }
  userErrors { field code message } } }"""
CATEGORY = """
mutation($input: CategoryInput!) { categoryCreate(input: $input) { category { id name parent { name } }
  userErrors { field code message } } }"""
PRODUCT_UPDATE = """
mutation($id: ID!, $input: ProductInput!) { productUpdate(productId: $id, input: $input) {
  product { id title onShelf imageUrls category { name } } userErrors { field code message } } }"""
SKU_CREATE = """
mutation($id: ID!, $input: SkuInput!) { skuCreate(productId: $id, input: $input) {
  sku { id code listPrice stock attributes { name value } } userErrors { field code message } } }"""
SKU_UPDATE = """
mutation($id: ID!, $input: SkuInput!) { skuUpdate(skuId: $id, input: $input) {
  sku { id code listPrice } userErrors { field code message } } }"""
PRODUCTS = """
query($first: Int, $after: String, $category: ID, $search: String, $all: Boolean) {
  products(first: $first, after: $after, categoryId: $category, search: $search, includeOffShelf: $all) {
    nodes { id title onShelf supplier { name } skus { code listPrice price stock attributes { name value } } }
    pageInfo { hasNextPage endCursor }
  }
}"""
STOCK_ADJUST = """
mutation($input: StockAdjustInput!) { stockAdjust(input: $input) {
  sku { stock } adjustment { delta stockAfter reason actor { id } } userErrors { field code message } } }"""
STOCK_HISTORY = """
query($sku: ID!) { stockAdjustments(skuId: $sku, first: 10) { nodes { delta stockAfter reason orderId actor { id } } } }"""


async def test_staff_build_the_catalog_and_customers_browse_on_shelf_products(client, app_state, db):
    token = await catalog_staff(client, app_state)
    supplier = (await client.execute(SUPPLIER, {"input": {"name": "西湖茶厂", "contact": "0571-1234"}},
                                     token=token))["supplierCreate"]["supplier"]
    tea = (await client.execute(CATEGORY, {"input": {"name": "茶"}}, token=token))["categoryCreate"]["category"]
    green = (await client.execute(CATEGORY, {"input": {"name": "绿茶", "parentId": tea["id"]}},
                                  token=token))["categoryCreate"]["category"]
    assert green["parent"] == {"name": "茶"}
    longjing = await create_product(client, token, "西湖龙井", supplierId=supplier["id"], categoryId=green["id"],
                                    imageUrls=["https://img.example.com/lj.jpg"], skus=[
                                        {"code": "LJ-250", "price": "128.00", "stock": 5,
                                         "attributes": [{"name": "规格", "value": "250g"}]},
                                        {"code": "LJ-500", "price": "238.50", "stock": 0}])
    await create_product(client, token, "普洱饼", categoryId=tea["id"])
    hidden = await create_product(client, token, "下架的龙井", on_shelf=False)
    cup = await create_product(client, token, "茶杯")

    customer = (await register(client))["accessToken"]
    data = await client.execute(PRODUCTS, {"first": 10}, token=customer)
    titles = [n["title"] for n in data["products"]["nodes"]]
    assert titles == ["茶杯", "普洱饼", "西湖龙井"]  # newest first, the off-shelf one missing
    lj = data["products"]["nodes"][2]
    assert lj["supplier"] is None  # suppliers are for staff
    assert lj["skus"][0] == {"code": "LJ-250", "listPrice": "128.00", "price": "128.00", "stock": 5,
                             "attributes": [{"name": "规格", "value": "250g"}]}
    # A category includes its sub-categories; search matches titles, case-insensitively and literally.
    by_category = await client.execute(PRODUCTS, {"category": tea["id"]})
    assert [n["title"] for n in by_category["products"]["nodes"]] == ["普洱饼", "西湖龙井"]
    assert [n["title"] for n in (await client.execute(PRODUCTS, {"search": "龙井"}))["products"]["nodes"]] == ["西湖龙井"]
    assert (await client.execute(PRODUCTS, {"search": "%"}))["products"]["nodes"] == []
    # Cursor pagination.
    page1 = (await client.execute(PRODUCTS, {"first": 2}))["products"]
    assert page1["pageInfo"]["hasNextPage"] is True
    page2 = (await client.execute(PRODUCTS, {"first": 2, "after": page1["pageInfo"]["endCursor"]}))["products"]
    assert [n["title"] for n in page2["nodes"]] == ["西湖龙井"] and page2["pageInfo"]["hasNextPage"] is False
    # The off-shelf product: not for customers (not even by id), but staff list it.
    node = "query($id: ID!) { node(id: $id) { ... on Product { title } } }"
    assert (await client.execute(node, {"id": hidden["id"]}, token=customer))["node"] is None
    assert (await client.execute(node, {"id": hidden["id"]}, token=token))["node"] == {"title": "下架的龙井"}
    assert (await client.execute("query($id: ID!) { product(id: $id) { title } }", {"id": hidden["id"]}))[
        "product"] is None
    errors = await client.errors(PRODUCTS, {"all": True}, token=customer)
    assert errors[0]["extensions"]["code"] == "FORBIDDEN"
    everything = await client.execute(PRODUCTS, {"all": True}, token=token)
    assert len(everything["products"]["nodes"]) == 4
    assert everything["products"]["nodes"][-1]["supplier"] == {"name": "西湖茶厂"}

    # Staff take a product off shelf, edit it and add SKUs.
    data = await client.execute(PRODUCT_UPDATE, {"id": cup["id"], "input": {"onShelf": False, "title": "白瓷茶杯"}},
                                token=token)
    assert data["productUpdate"]["product"]["onShelf"] is False
    assert "白瓷茶杯" not in [n["title"] for n in (await client.execute(PRODUCTS))["products"]["nodes"]]
    sku = (await client.execute(SKU_CREATE, {"id": longjing["id"], "input": {
        "code": "LJ-1000", "price": "450.00", "stock": 3, "attributes": [{"name": "颜色", "value": "绿"}]}},
        token=token))["skuCreate"]["sku"]
    assert sku["stock"] == 3 and sku["listPrice"] == "450.00"
    updated = (await client.execute(SKU_UPDATE, {"id": sku["id"], "input": {"price": "460.00"}},
                                    token=token))["skuUpdate"]
    assert updated["sku"]["listPrice"] == "460.00"
    actions = set((await db.scalars(select(AuditEntry.action))).all())
    assert {"catalog.product.create", "catalog.product.update", "catalog.sku.update"} <= actions


async def test_catalog_edits_are_refused_with_clear_codes(client, app_state):
    token = await catalog_staff(client, app_state)
    product = await create_product(client, token, skus=[{"code": "A-1", "price": "10.00"}])
    cases = [
        ({"title": " ", "skus": []}, "REQUIRED", "title"),
        ({"title": "x", "skus": [{"code": "A-1", "price": "1.00"}]}, "SKU_CODE_TAKEN", "skus.0.code"),
        ({"title": "x", "skus": [{"code": "B-1", "price": "1.00"}, {"code": "B-1", "price": "2.00"}]},
         "SKU_CODE_TAKEN", "skus.1.code"),
        ({"title": "x", "skus": [{"code": "bad code!", "price": "1.00"}]}, "INVALID", "skus.0.code"),
        ({"title": "x", "skus": [{"code": "C-1", "price": "-1.00"}]}, "INVALID", "skus.0.price"),
        ({"title": "x", "skus": [{"code": "C-1", "price": "1.00", "stock": -1}]}, "INVALID", "skus.0.stock"),
        ({"title": "x", "skus": [{"code": "C-1", "price": "1.00", "bandMin": "5.00", "bandMax": "4.00"}]},
         "INVALID_BAND", "skus.0.bandMin"),
        ({"title": "x", "imageUrls": ["javascript:alert(1)"]}, "INVALID", "imageUrls"),
        ({"title": "x", "onShelf": True, "skus": []}, "INVALID", "onShelf"),
        ({"title": "x", "categoryId": "Q2F0ZWdvcnk6OTk5"}, "NOT_FOUND", "categoryId"),
        ({"title": "x", "supplierId": product["id"]}, "INVALID", "supplierId"),
    ]
    for variables, code, field in cases:
        payload = (await client.execute(PRODUCT_CREATE, {"input": variables}, token=token))["productCreate"]
        assert payload["product"] is None, variables
        assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [(code, field)], variables
    # Nothing half-written: still one product.
    assert len((await client.execute(PRODUCTS, {"all": True}, token=token))["products"]["nodes"]) == 1
    # Customers and staff without MANAGE_CATALOG cannot edit.
    customer = (await register(client))["accessToken"]
    other_staff = (await staff(client, app_state, {"MANAGE_ORDERS"}))["accessToken"]
    for who in (customer, other_staff, None):
        payload = (await client.execute(PRODUCT_CREATE, {"input": {"title": "x"}}, token=who))["productCreate"]
        assert payload["userErrors"][0]["code"] in ("FORBIDDEN", "NOT_AUTHENTICATED")
        payload = (await client.execute(SUPPLIER, {"input": {"name": "x"}}, token=who))["supplierCreate"]
        assert payload["userErrors"][0]["code"] in ("FORBIDDEN", "NOT_AUTHENTICATED")
    # The band and stock change only through their own operations.
    payload = (await client.execute(SKU_UPDATE, {"id": product["skus"][0]["id"], "input": {"stock": 5}},
                                    token=token))["skuUpdate"]
    assert payload["userErrors"][0]["code"] == "INVALID"


async def test_stock_adjustments_record_who_why_how_much_and_never_go_negative(client, app_state):
    token = await catalog_staff(client, app_state)
    product = await create_product(client, token, skus=[{"code": "S-1", "price": "10.00", "stock": 4}])
    sku_id = product["skus"][0]["id"]
    added = (await client.execute(STOCK_ADJUST, {"input": {"skuId": sku_id, "delta": 6, "reason": "到货"}},
                                  token=token))["stockAdjust"]
    assert added["sku"] == {"stock": 10} and added["adjustment"]["stockAfter"] == 10
    taken = (await client.execute(STOCK_ADJUST, {"input": {"skuId": sku_id, "delta": -10, "reason": "盘亏"}},
                                  token=token))["stockAdjust"]
    assert taken["sku"] == {"stock": 0}
    for delta, reason, code, field in ((-1, "破损", "OUT_OF_STOCK", "delta"), (0, "x", "INVALID", "delta"),
                                       (5, " ", "REQUIRED", "reason")):
        refused = (await client.execute(STOCK_ADJUST, {"input": {"skuId": sku_id, "delta": delta, "reason": reason}},
                                        token=token))["stockAdjust"]
        assert refused["sku"] is None
        assert [(e["code"], e["field"]) for e in refused["userErrors"]] == [(code, field)]
    customer = (await register(client))["accessToken"]
    refused = (await client.execute(STOCK_ADJUST, {"input": {"skuId": sku_id, "delta": 1, "reason": "x"}},
                                    token=customer))["stockAdjust"]
    assert refused["userErrors"][0]["code"] == "FORBIDDEN"
    history = (await client.execute(STOCK_HISTORY, {"sku": sku_id}, token=token))["stockAdjustments"]["nodes"]
    assert [(h["delta"], h["stockAfter"], h["reason"]) for h in history] == [
        (-10, 0, "盘亏"), (6, 10, "到货"), (4, 4, "initial stock")]
    assert history[0]["actor"]["id"] and history[0]["orderId"] is None
    errors = await client.errors(STOCK_HISTORY, {"sku": sku_id}, token=customer)
    assert errors[0]["extensions"]["code"] == "FORBIDDEN"


CSV_QUERY = "{ catalogCsv }"


async def test_catalog_csv_export(client, app_state):
    admin = (await staff(client, app_state, {"MANAGE_CATALOG", "MANAGE_DISTRIBUTORS"}))["accessToken"]
    grade = (await client.execute("""mutation { gradeCreate(input: {name: "金牌", level: 1, tier1Rate: 1000}) {
        grade { id } } }""", token=admin))["gradeCreate"]["grade"]["id"]
    product = await create_product(client, admin, "龙井, \"特级\"", skus=[
        {"code": "LJ-1", "price": "12.34", "stock": 7, "bandMin": "10.00", "bandMax": "20.00",
         "attributes": [{"name": "size", "value": "L"}]}])
    await client.execute("""mutation($i: SkuPurchasePricesInput!) { skuPurchasePricesSet(input: $i) {
        userErrors { code } } }""", {"i": {"skuId": product["skus"][0]["id"],
                                           "prices": [{"gradeId": grade, "price": "8.50"}]}}, token=admin)
    await client.execute("""mutation($i: ProductCommissionRulesInput!) { productCommissionRulesSet(input: $i) {
        userErrors { code } } }""", {"i": {"productId": product["id"], "rules": [
        {"gradeId": grade, "tier": 1, "mode": "PERCENT", "rate": 1250},
        {"gradeId": grade, "tier": 2, "mode": "FIXED", "fixedAmount": "1.50"}]}}, token=admin)
    text = (await client.execute(CSV_QUERY, token=admin))["catalogCsv"]
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 1
    row = rows[0]
    assert row["title"] == "龙井, \"特级\"" and row["sku_code"] == "LJ-1" and row["attributes"] == "size=L"
    assert (row["list_price"], row["stock"], row["band_min"], row["band_max"]) == ("12.34", "7", "10.00", "20.00")
    assert row["purchase_price[金牌]"] == "8.50"
    assert (row["commission[金牌][T1]"], row["commission[金牌][T2]"], row["commission[金牌][T3]"]) == (
        "12.50%", "1.50/unit", "")
    assert row["allowed_grades"] == "all" and row["on_shelf"] == "yes"
    customer = (await register(client))["accessToken"]
    assert (await client.errors(CSV_QUERY, token=customer))[0]["extensions"]["code"] == "FORBIDDEN"
