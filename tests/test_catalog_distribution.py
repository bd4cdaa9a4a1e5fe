"""Distribution permissions, purchase prices, commission overrides, price bands and distributors'
resale prices through the GraphQL API, and the "what may I sell and earn" query's SQL count."""

from __future__ import annotations

from core.ids import decode_global_id
from core.money import format_money
from services import catalog as catalog_service
from services.region import load_regions
from tests.factories import (
    APPLY,
    arrive,
    catalog_staff,
    create_product,
    direct_program,
    next_phone,
    register,
)

GRADE = """
mutation($input: GradeInput!) { gradeCreate(input: $input) { grade { id } userErrors { code message } } }"""
SET_GRADE = """
mutation($input: DistributorGradeInput!) { distributorGradeSet(input: $input) { userErrors { code message } } }"""
DISTRIBUTION = """
mutation($input: ProductDistributionInput!) { productDistributionSet(input: $input) {
  product { id distributable allowedGrades { name } allowedRegions { code } } userErrors { field code message } } }"""
PURCHASE = """
mutation($input: SkuPurchasePricesInput!) { skuPurchasePricesSet(input: $input) {
  sku { id purchasePrices { grade { name } purchasePrice } } userErrors { field code message } } }"""
RULES = """
mutation($input: ProductCommissionRulesInput!) { productCommissionRulesSet(input: $input) {
  product { commissionRules { grade { name } tier mode rate fixedAmount } } userErrors { field code message } } }"""
BAND = """
mutation($input: SkuBandInput!) { skuBandUpdate(input: $input) {
  sku { bandMin bandMax }
  strandedPrices { price inBand distributor { id } sku { code } }
  warnings { field code message }
  userErrors { field code message } } }"""
MY_PRICE = """
mutation($input: DistributorPriceInput!) { distributorPriceSet(input: $input) {
  distributorPrice { price inBand } userErrors { field code message } } }"""
OFFER = """
query($first: Int, $after: String) { distributableProducts(first: $first, after: $after) {
  pageInfo { hasNextPage endCursor }
  nodes {
    product { id title category { name } skus { code price } }
    skus { sku { code } purchasePrice myPrice myPriceInBand price listPrice bandMin bandMax
           commissions { tier mode rate fixedAmount amount overridden } }
  }
} }"""
SKU_VIEW = """
query($id: ID!, $via: String) { product(id: $id, via: $via) {
  commissionRules { grade { name } tier }
  skus { code listPrice price bandMin bandMax purchasePrices { grade { name } purchasePrice } } } }"""
STRANDED = "{ strandedDistributorPrices(first: 10) { nodes { price inBand sku { code } distributor { id } } } }"


async def _grade(client, admin: str, **spec) -> str:
    payload = (await client.execute(GRADE, {"input": spec}, token=admin))["gradeCreate"]
    assert payload["userErrors"] == [], payload
    return payload["grade"]["id"]


async def _distributor(client, admin: str, *, region: str | None, grade: str | None = None) -> dict:
    """A customer who joins (direct mode) registered in `region`, at `grade` (default: the lowest)."""
    user = await register(client)
    apply_input = {"agreementVersion": "1"}
    if region:
        apply_input["regionCode"] = region
    payload = (await client.execute(APPLY, {"input": apply_input}, token=user["accessToken"]))["distributorApply"]
    assert payload["userErrors"] == [], payload["userErrors"]
    distributor = payload["application"]["distributor"]
    assert distributor["status"] == "ACTIVE"
    if grade is not None:
        result = (await client.execute(SET_GRADE, {"input": {"distributorId": distributor["id"], "gradeId": grade,
                                                             "reason": "test"}}, token=admin))["distributorGradeSet"]
        assert result["userErrors"] == [], result
    return {"token": user["accessToken"], "id": distributor["id"], "invite_code": distributor["inviteCode"]}


async def _network(client, app_state, db):
    """Regions, two grades and two distributors: A (普通, 杭州西湖区) and B (金牌, 北京东城区)."""
    await load_regions(db)  # reference data, loaded by the region loader: the API has no way in
    await db.commit()
    admin = await direct_program(client, app_state)
    normal = await _grade(client, admin, name="普通", level=1, tier1Rate=1000, tier2Rate=500, tier3Rate=200)
    gold = await _grade(client, admin, name="金牌", level=2, tier1Rate=1500, tier2Rate=600, tier3Rate=300)
    a = await _distributor(client, admin, region="330106")
    b = await _distributor(client, admin, region="110101", grade=gold)
    return admin, normal, gold, a, b


def _ok(payload: dict) -> dict:
    assert payload["userErrors"] == [], payload["userErrors"]
    return payload


async def test_distribution_permissions_purchase_prices_and_commission(client, app_state, db):
    admin, normal, gold, a, b = await _network(client, app_state, db)
    cat = await catalog_staff(client, app_state)
    everyone = await create_product(client, cat, "人人可卖", skus=[{"code": "ALL-1", "price": "100.00"}])
    gold_only = await create_product(client, cat, "金牌专享")
    zhejiang = await create_product(client, cat, "浙江专供")
    chaoyang = await create_product(client, cat, "朝阳专供")
    not_distributable = await create_product(client, cat, "不分销")
    off_shelf = await create_product(client, cat, "下架", on_shelf=False)
    for product, grades, regions in ((gold_only, [gold], []), (zhejiang, [], ["330000"]),
                                     (chaoyang, [], ["110105"]), (off_shelf, [], [])):
        data = _ok((await client.execute(DISTRIBUTION, {"input": {"productId": product["id"], "distributable": True,
                                                                  "gradeIds": grades, "regionCodes": regions}},
                                         token=cat))["productDistributionSet"])
    assert data["product"]["allowedGrades"] == [] and data["product"]["allowedRegions"] == []
    data = _ok((await client.execute(DISTRIBUTION, {"input": {"productId": zhejiang["id"], "distributable": True,
                                                              "regionCodes": ["330000"]}},
                                     token=cat))["productDistributionSet"])
    assert data["product"]["allowedRegions"] == [{"code": "330000"}]
    _ok((await client.execute(DISTRIBUTION, {"input": {"productId": not_distributable["id"],
                                                       "distributable": False}}, token=cat))["productDistributionSet"])

    # A (普通, in 杭州西湖区 under 浙江省) and B (金牌, 北京东城区) see different lists.
    titles_a = [n["product"]["title"] for n in (await client.execute(OFFER, token=a["token"]))[
        "distributableProducts"]["nodes"]]
    titles_b = [n["product"]["title"] for n in (await client.execute(OFFER, token=b["token"]))[
        "distributableProducts"]["nodes"]]
    assert titles_a == ["浙江专供", "人人可卖"]
    assert titles_b == ["金牌专享", "人人可卖"]

    # Purchase prices per grade, and commission overrides for 普通 on one product.
    sku_id = everyone["skus"][0]["id"]
    purchase = _ok((await client.execute(PURCHASE, {"input": {"skuId": sku_id, "prices": [
        {"gradeId": normal, "price": "80.00"}, {"gradeId": gold, "price": "70.00"}]}}, token=cat))[
        "skuPurchasePricesSet"])
    assert purchase["sku"]["purchasePrices"] == [{"grade": {"name": "普通"}, "purchasePrice": "80.00"},
                                                 {"grade": {"name": "金牌"}, "purchasePrice": "70.00"}]
    rules = _ok((await client.execute(RULES, {"input": {"productId": everyone["id"], "rules": [
        {"gradeId": normal, "tier": 1, "mode": "FIXED", "fixedAmount": "5.00"},
        {"gradeId": normal, "tier": 2, "mode": "PERCENT", "rate": 800}]}}, token=cat))["productCommissionRulesSet"])
    assert rules["product"]["commissionRules"] == [
        {"grade": {"name": "普通"}, "tier": 1, "mode": "FIXED", "rate": None, "fixedAmount": "5.00"},
        {"grade": {"name": "普通"}, "tier": 2, "mode": "PERCENT", "rate": 800, "fixedAmount": None}]

    offer_a = (await client.execute(OFFER, token=a["token"]))["distributableProducts"]["nodes"][1]["skus"][0]
    assert offer_a["purchasePrice"] == "80.00" and offer_a["price"] == "100.00" and offer_a["myPrice"] is None
    assert offer_a["commissions"] == [
        {"tier": 1, "mode": "FIXED", "rate": None, "fixedAmount": "5.00", "amount": "5.00", "overridden": True},
        {"tier": 2, "mode": "PERCENT", "rate": 800, "fixedAmount": None, "amount": "8.00", "overridden": True},
        {"tier": 3, "mode": "PERCENT", "rate": 200, "fixedAmount": None, "amount": "2.00", "overridden": False}]
    offer_b = (await client.execute(OFFER, token=b["token"]))["distributableProducts"]["nodes"][1]["skus"][0]
    assert offer_b["purchasePrice"] == "70.00"
    assert [(c["rate"], c["amount"], c["overridden"]) for c in offer_b["commissions"]] == [
        (1500, "15.00", False), (600, "6.00", False), (300, "3.00", False)]

    # Who sees purchase prices and rules: staff all, a distributor their own grade's only, customers none.
    customer = (await register(client))["accessToken"]
    view = {}
    for who, token in (("staff", cat), ("a", a["token"]), ("b", b["token"]), ("customer", customer), ("anon", None)):
        view[who] = (await client.execute(SKU_VIEW, {"id": everyone["id"]}, token=token))["product"]
    assert [p["grade"]["name"] for p in view["staff"]["skus"][0]["purchasePrices"]] == ["普通", "金牌"]
    assert view["a"]["skus"][0]["purchasePrices"] == [{"grade": {"name": "普通"}, "purchasePrice": "80.00"}]
    assert view["b"]["skus"][0]["purchasePrices"] == [{"grade": {"name": "金牌"}, "purchasePrice": "70.00"}]
    assert view["customer"]["skus"][0]["purchasePrices"] is None
    assert view["anon"]["skus"][0]["purchasePrices"] is None
    assert len(view["staff"]["commissionRules"]) == 2 and len(view["a"]["commissionRules"]) == 2
    assert view["b"]["commissionRules"] == [] and view["customer"]["commissionRules"] is None

    # Refusals.
    cases = [
        (RULES, {"productId": everyone["id"], "rules": [{"gradeId": normal, "tier": 4, "mode": "PERCENT",
                                                          "rate": 100}]}, "TIER_LIMIT", "rules.0.tier"),
        (RULES, {"productId": everyone["id"], "rules": [{"gradeId": normal, "tier": 1, "mode": "PERCENT"}]},
         "REQUIRED", "rules.0.rate"),
        (RULES, {"productId": everyone["id"], "rules": [{"gradeId": normal, "tier": 1, "mode": "FIXED",
                                                          "fixedAmount": "-1.00"}]}, "INVALID", "rules.0.fixedAmount"),
        (RULES, {"productId": everyone["id"], "rules": [
            {"gradeId": normal, "tier": 1, "mode": "PERCENT", "rate": 1},
            {"gradeId": normal, "tier": 1, "mode": "PERCENT", "rate": 2}]}, "INVALID", "rules.1.tier"),
        (DISTRIBUTION, {"productId": everyone["id"], "distributable": True, "regionCodes": ["999999"]},
         "NOT_FOUND", "regionCodes"),
        (PURCHASE, {"skuId": sku_id, "prices": [{"gradeId": normal, "price": "-0.01"}]}, "INVALID",
         "prices.0.price"),
    ]
    for document, variables, code, field in cases:
        data = await client.execute(document, {"input": variables}, token=cat)
        payload = next(iter(data.values()))
        assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [(code, field)], variables
    for document, variables in ((RULES, {"productId": everyone["id"], "rules": []}),
                                (PURCHASE, {"skuId": sku_id, "prices": []}),
                                (DISTRIBUTION, {"productId": everyone["id"], "distributable": False})):
        payload = next(iter((await client.execute(document, {"input": variables}, token=a["token"])).values()))
        assert payload["userErrors"][0]["code"] == "FORBIDDEN"
    # The rules stayed as they were.
    assert len((await client.execute(SKU_VIEW, {"id": everyone["id"]}, token=cat))["product"]["commissionRules"]) == 2
    errors = await client.errors(OFFER, token=customer)
    assert errors[0]["extensions"]["code"] == "NOT_A_DISTRIBUTOR"
    await client.execute("""mutation($i: DistributorStatusInput!) { distributorStatusUpdate(input: $i) {
        userErrors { code } } }""", {"i": {"distributorId": a["id"], "status": "FROZEN", "reason": "test"}},
                         token=admin)
    errors = await client.errors(OFFER, token=a["token"])
    assert errors[0]["extensions"]["code"] == "DISTRIBUTOR_INACTIVE"


async def test_price_bands_and_distributor_prices(client, app_state, db):
    admin, normal, gold, a, b = await _network(client, app_state, db)
    cat = await catalog_staff(client, app_state)
    product = await create_product(client, cat, "龙井", skus=[
        {"code": "LJ", "price": "100.00", "bandMin": "90.00", "bandMax": "120.00"},
        {"code": "NOBAND", "price": "50.00"}])
    banded, unbanded = product["skus"][0]["id"], product["skus"][1]["id"]
    gold_only = await create_product(client, cat, "金牌专享", skus=[
        {"code": "GOLD", "price": "10.00", "bandMin": "9.00", "bandMax": "11.00"}])
    _ok((await client.execute(DISTRIBUTION, {"input": {"productId": gold_only["id"], "distributable": True,
                                                       "gradeIds": [gold]}}, token=cat))["productDistributionSet"])

    # A distributor sets a price inside the band; every other price is refused with a clear code.
    set_price = _ok((await client.execute(MY_PRICE, {"input": {"skuId": banded, "price": "110.00"}},
                                          token=a["token"]))["distributorPriceSet"])
    assert set_price["distributorPrice"] == {"price": "110.00", "inBand": True}
    customer = await register(client)
    refusals = [
        (a["token"], banded, "120.01", "PRICE_OUT_OF_BAND", "price"),
        (a["token"], banded, "89.99", "PRICE_OUT_OF_BAND", "price"),
        (a["token"], unbanded, "50.00", "NO_PRICE_BAND", "skuId"),
        (a["token"], gold_only["skus"][0]["id"], "10.00", "NOT_DISTRIBUTABLE", "skuId"),
        (customer["accessToken"], banded, "100.00", "NOT_A_DISTRIBUTOR", None),
        (None, banded, "100.00", "NOT_AUTHENTICATED", None),
    ]
    for token, sku, price, code, field in refusals:
        payload = (await client.execute(MY_PRICE, {"input": {"skuId": sku, "price": price}}, token=token))[
            "distributorPriceSet"]
        assert payload["distributorPrice"] is None
        assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [(code, field)], (sku, price)
    message = (await client.execute(MY_PRICE, {"input": {"skuId": banded, "price": "130.00"}}, token=a["token"]))[
        "distributorPriceSet"]["userErrors"][0]["message"]
    assert message == "Set a price between 90.00 and 120.00."
    _ok((await client.execute(MY_PRICE, {"input": {"skuId": gold_only["skus"][0]["id"], "price": "11.00"}},
                              token=b["token"]))["distributorPriceSet"])

    # Shoppers arriving through A (invite code, or bound to A) see A's price; others the list price.
    def prices(data):
        return [(s["code"], s["listPrice"], s["price"]) for s in data["product"]["skus"]]

    assert prices(await client.execute(SKU_VIEW, {"id": product["id"]})) == [
        ("LJ", "100.00", "100.00"), ("NOBAND", "50.00", "50.00")]
    assert prices(await client.execute(SKU_VIEW, {"id": product["id"], "via": a["invite_code"]})) == [
        ("LJ", "100.00", "110.00"), ("NOBAND", "50.00", "50.00")]
    assert prices(await client.execute(SKU_VIEW, {"id": product["id"], "via": b["invite_code"]}))[0][2] == "100.00"
    assert (await client.execute(SKU_VIEW, {"id": product["id"], "via": "NO-SUCH"}))["product"]["skus"][0][
        "price"] == "100.00"
    await arrive(client, customer["accessToken"], inviteCode=a["invite_code"])
    assert prices(await client.execute(SKU_VIEW, {"id": product["id"]}, token=customer["accessToken"]))[0][2] == \
        "110.00"
    listing = await client.execute("{ products { nodes { skus { code price } } } }", token=customer["accessToken"])
    assert {"code": "LJ", "price": "110.00"} in listing["products"]["nodes"][1]["skus"]
    # Customers do not see the band; distributors and staff do.
    assert (await client.execute(SKU_VIEW, {"id": product["id"]}, token=customer["accessToken"]))["product"][
        "skus"][0]["bandMin"] is None
    assert (await client.execute(SKU_VIEW, {"id": product["id"]}, token=a["token"]))["product"]["skus"][0][
        "bandMin"] == "90.00"

    # Invalid bands are refused.
    for band_min, band_max, code, field in (("130.00", "120.00", "INVALID_BAND", "bandMin"),
                                            ("90.00", None, "INVALID_BAND", "bandMax"),
                                            ("-1.00", "10.00", "INVALID_BAND", "bandMin")):
        payload = (await client.execute(BAND, {"input": {"skuId": banded, "bandMin": band_min, "bandMax": band_max}},
                                        token=cat))["skuBandUpdate"]
        assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [(code, field)]
    payload = (await client.execute(BAND, {"input": {"skuId": banded, "bandMin": "1.00", "bandMax": "2.00"}},
                                    token=a["token"]))["skuBandUpdate"]
    assert payload["userErrors"][0]["code"] == "FORBIDDEN"

    # Narrowing the band strands A's price: listed in the answer and for staff, and no longer used.
    narrowed = _ok((await client.execute(BAND, {"input": {"skuId": banded, "bandMin": "90.00",
                                                          "bandMax": "105.00"}}, token=cat))["skuBandUpdate"])
    assert narrowed["sku"] == {"bandMin": "90.00", "bandMax": "105.00"}
    assert narrowed["strandedPrices"] == [{"price": "110.00", "inBand": False, "distributor": {"id": a["id"]},
                                           "sku": {"code": "LJ"}}]
    assert [(w["code"], w["field"]) for w in narrowed["warnings"]] == [("BAND_STRANDS_PRICES", "bandMin")]
    assert prices(await client.execute(SKU_VIEW, {"id": product["id"], "via": a["invite_code"]}))[0][2] == "100.00"
    stranded = (await client.execute(STRANDED, token=cat))["strandedDistributorPrices"]["nodes"]
    assert stranded == [{"price": "110.00", "inBand": False, "sku": {"code": "LJ"}, "distributor": {"id": a["id"]}}]
    assert (await client.errors(STRANDED, token=a["token"]))[0]["extensions"]["code"] == "FORBIDDEN"
    offer = [n for n in (await client.execute(OFFER, token=a["token"]))["distributableProducts"]["nodes"]
             if n["product"]["title"] == "龙井"][0]["skus"][0]
    assert (offer["myPrice"], offer["myPriceInBand"], offer["price"], offer["bandMax"]) == (
        "110.00", False, "100.00", "105.00")
    async with app_state.sessionmaker() as session:
        a_pk = decode_global_id(a["id"])[1]
        sku_pk = decode_global_id(banded)[1]
        assert await catalog_service.effective_prices(session, [sku_pk], a_pk) == {sku_pk: 10000}
        assert await catalog_service.band_floor(session, [sku_pk]) == {sku_pk: 9000}

    # A fixes the price: used again, nothing stranded.
    _ok((await client.execute(MY_PRICE, {"input": {"skuId": banded, "price": "104.00"}},
                              token=a["token"]))["distributorPriceSet"])
    assert (await client.execute(STRANDED, token=cat))["strandedDistributorPrices"]["nodes"] == []
    assert prices(await client.execute(SKU_VIEW, {"id": product["id"], "via": a["invite_code"]}))[0][2] == "104.00"
    # Clearing it goes back to the list price.
    cleared = (await client.execute("mutation($s: ID!) { distributorPriceClear(skuId: $s) { cleared userErrors "
                                    "{ code } } }", {"s": banded}, token=a["token"]))["distributorPriceClear"]
    assert cleared == {"cleared": True, "userErrors": []}
    assert prices(await client.execute(SKU_VIEW, {"id": product["id"], "via": a["invite_code"]}))[0][2] == "100.00"


BULK_TERMS = """
mutation($first: SkuPurchasePricesInput!, $second: SkuPurchasePricesInput!, $rules: ProductCommissionRulesInput!) {
  first: skuPurchasePricesSet(input: $first) { userErrors { code message } }
  second: skuPurchasePricesSet(input: $second) { userErrors { code message } }
  rules: productCommissionRulesSet(input: $rules) { userErrors { code message } }
}"""


async def _bulk_products(client, token: str, count: int, grade: str) -> None:
    """`count` distributable products with two banded SKUs each, a purchase price per SKU and a
    fixed tier-1 rule for `grade`, set up by catalog staff."""
    for _ in range(count):
        batch = next_phone()
        product = await create_product(client, token, f"bulk {batch}", skus=[
            {"code": f"B{batch}-{j}", "price": format_money(1000 + j), "stock": 5, "bandMin": "9.00",
             "bandMax": "12.00"} for j in range(2)])
        prices = [{"skuId": sku["id"], "prices": [{"gradeId": grade, "price": "8.00"}]} for sku in product["skus"]]
        terms = await client.execute(BULK_TERMS, {
            "first": prices[0], "second": prices[1],
            "rules": {"productId": product["id"], "rules": [{"gradeId": grade, "tier": 1, "mode": "FIXED",
                                                            "fixedAmount": "0.50"}]}}, token=token)
        assert all(payload["userErrors"] == [] for payload in terms.values()), terms


async def test_what_may_i_sell_and_earn_runs_a_fixed_number_of_statements(client, app_state, db, statements):
    admin, normal, gold, a, b = await _network(client, app_state, db)
    cat = await catalog_staff(client, app_state)
    category = (await client.execute('mutation { categoryCreate(input: {name: "茶"}) { category { id } } }',
                                     token=cat))["categoryCreate"]["category"]["id"]
    await create_product(client, cat, "first", categoryId=category)
    await _bulk_products(client, cat, 4, normal)
    statements.reset()
    few = (await client.execute(OFFER, {"first": 100}, token=a["token"]))["distributableProducts"]["nodes"]
    few_count = statements.count
    assert len(few) == 5
    await _bulk_products(client, cat, 45, normal)
    statements.reset()
    many = (await client.execute(OFFER, {"first": 100}, token=a["token"]))["distributableProducts"]["nodes"]
    assert len(many) == 50
    assert statements.count == few_count <= 12, statements.statements
    assert many[0]["skus"][0]["commissions"][0]["amount"] == "0.50"
    assert many[0]["skus"][0]["purchasePrice"] == "8.00"
    assert many[-1]["product"]["category"] == {"name": "茶"}
