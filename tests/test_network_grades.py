"""Grades: configuration, automatic upgrades, staff override, partner, grade history."""

from __future__ import annotations

from sqlalchemy import select

from models.audit import AuditEntry
from services import grade as grade_service
from tests.factories import direct_program, join, set_program, staff
from tests.order_support import completed_order, customer_of, make_sku

GRADE_CREATE = """
mutation($input: GradeInput!) {
  gradeCreate(input: $input) {
    grade { id name level tier1Rate tier2Rate tier3Rate discount conditionMode minPersonalSales minTeamSize
            isPartner teamBonusRate }
    userErrors { field code message }
  }
}"""
HISTORY = """
query($d: ID) { gradeHistory(distributorId: $d) { nodes { kind reason fromGrade { name } toGrade { name } } } }"""
SET_GRADE = """
mutation($input: DistributorGradeInput!) {
  distributorGradeSet(input: $input) { distributor { grade { name } } userErrors { field code message } }
}"""
ME = "{ myDistributor { grade { name level isPartner } personalSales } }"


async def _grades(client, admin):
    made = {}
    for spec in [
        {"name": "普通分销员", "level": 1, "tier1Rate": 1000, "tier2Rate": 500},
        {"name": "银牌", "level": 2, "tier1Rate": 1200, "tier2Rate": 600, "discount": 500,
         "minPersonalSales": "100.00", "minDirectMembers": 2, "conditionMode": "ANY"},
        {"name": "金牌", "level": 3, "tier1Rate": 1500, "tier2Rate": 800, "tier3Rate": 200, "discount": 800,
         "minPersonalSales": "500.00", "minDirectMembers": 2, "conditionMode": "ALL"},
        {"name": "合伙人", "level": 4, "tier1Rate": 2000, "isPartner": True, "teamBonusRate": 300,
         "minTeamSales": "100000.00", "minTeamSize": 100},
    ]:
        payload = (await client.execute(GRADE_CREATE, {"input": spec}, token=admin))["gradeCreate"]
        assert payload["userErrors"] == [], payload
        made[spec["name"]] = payload["grade"]
    return made


async def _completed_sale(client, app_state, distributor: dict, price_fen: int) -> None:
    """A customer bound to `distributor` buys one item at `price_fen`; the order completes."""
    buyer = (await customer_of(client, distributor))["accessToken"]
    await completed_order(client, app_state, buyer, await make_sku(client, app_state, price_fen=price_fen))


async def test_grade_configuration(client, app_state):
    admin = await direct_program(client, app_state)
    grades = await _grades(client, admin)
    assert grades["金牌"]["tier3Rate"] == 200 and grades["金牌"]["minPersonalSales"] == "500.00"
    assert grades["合伙人"]["isPartner"] is True and grades["合伙人"]["teamBonusRate"] == 300
    listed = (await client.execute("{ grades { name level } }"))["grades"]
    assert [g["level"] for g in listed] == [1, 2, 3, 4]
    taken = (await client.execute(GRADE_CREATE, {"input": {"name": "重复", "level": 2}}, token=admin))["gradeCreate"]
    assert taken["userErrors"] == [{"field": "level", "code": "GRADE_LEVEL_TAKEN",
                                    "message": "Another grade already has level 2."}]
    customer = await join(client)
    refused = (await client.execute(GRADE_CREATE, {"input": {"name": "x", "level": 9}}, token=customer["token"])
               )["gradeCreate"]
    assert refused["userErrors"][0]["code"] == "FORBIDDEN"
    errors = await client.errors(GRADE_CREATE, {"input": {"name": "x", "level": 9, "tier1Rate": 10001}},
                                 token=admin)
    assert "BasisPoints" in errors[0]["message"]
    updated = await client.execute("""mutation($id: ID!) { gradeUpdate(gradeId: $id, input: {discount: 900}) {
        grade { discount } userErrors { code } } }""", {"id": grades["金牌"]["id"]}, token=admin)
    assert updated["gradeUpdate"] == {"grade": {"discount": 900}, "userErrors": []}


async def test_automatic_upgrades_and_history(client, app_state, db):
    admin = await direct_program(client, app_state)
    await _grades(client, admin)
    lead = await join(client, nickname="lead")
    assert (await client.execute(ME, token=lead["token"]))["myDistributor"]["grade"]["name"] == "普通分销员"
    # Two direct members meet 银牌 (ANY) but not 金牌 (ALL also needs 500.00 personal sales).
    await join(client, lead["invite_code"])
    await join(client, lead["invite_code"])
    me = (await client.execute(ME, token=lead["token"]))["myDistributor"]
    assert me["grade"]["name"] == "银牌"
    # A customer of the lead buys 500.00; once the order completes, the lead reaches 金牌.
    await _completed_sale(client, app_state, lead, 50_000)
    me = (await client.execute(ME, token=lead["token"]))["myDistributor"]
    assert me == {"grade": {"name": "金牌", "level": 3, "isPartner": False}, "personalSales": "500.00"}
    # The scheduled job finds nothing more to do: 合伙人 needs far more.
    async with app_state.sessionmaker() as session:
        assert await grade_service.run_upgrades(session) == 0

    history = (await client.execute(HISTORY, token=lead["token"]))["gradeHistory"]["nodes"]
    assert [(h["kind"], h["fromGrade"] and h["fromGrade"]["name"], h["toGrade"]["name"]) for h in history] == [
        ("AUTO", "银牌", "金牌"), ("AUTO", "普通分销员", "银牌"), ("INITIAL", None, "普通分销员")]

    # Staff grant the partner grade with a reason (never bought); audited, and in the history.
    partner = [g for g in (await client.execute("{ grades { id name } }"))["grades"] if g["name"] == "合伙人"][0]
    given = {"distributorId": lead["id"], "gradeId": partner["id"]}
    assert (await client.execute(SET_GRADE, {"input": {**given, "reason": " "}}, token=admin)
            )["distributorGradeSet"]["userErrors"][0]["code"] == "REQUIRED"
    assert (await client.execute(SET_GRADE, {"input": {**given, "reason": "x"}}, token=lead["token"])
            )["distributorGradeSet"]["userErrors"][0]["code"] == "FORBIDDEN"
    payload = (await client.execute(SET_GRADE, {"input": {**given, "reason": "区域开拓贡献"}}, token=admin)
               )["distributorGradeSet"]
    assert payload == {"distributor": {"grade": {"name": "合伙人"}}, "userErrors": []}
    history = (await client.execute(HISTORY, {"d": lead["id"]}, token=admin))["gradeHistory"]["nodes"]
    assert history[0] == {"kind": "STAFF", "reason": "区域开拓贡献", "fromGrade": {"name": "金牌"},
                          "toGrade": {"name": "合伙人"}}
    entry = (await db.scalars(select(AuditEntry).where(AuditEntry.action == "distributor.grade"))).one()
    assert entry.reason == "区域开拓贡献"

    # Another distributor cannot read this history.
    other = await join(client)
    errors = await client.errors(HISTORY, {"d": lead["id"]}, token=other["token"])
    assert errors[0]["extensions"]["code"] == "FORBIDDEN"


async def test_partner_reached_by_conditions_only(client, app_state):
    admin = (await staff(client, app_state, {"MANAGE_DISTRIBUTORS"}))["accessToken"]
    await set_program(client, admin, joinMode="DIRECT")
    for spec in [{"name": "普通", "level": 1},
                 {"name": "合伙人", "level": 2, "isPartner": True, "teamBonusRate": 300, "minTeamSize": 3,
                  "minTeamSales": "10.00"}]:
        await client.execute(GRADE_CREATE, {"input": spec}, token=admin)
    top = await join(client)
    mid = await join(client, top["invite_code"])
    await join(client, mid["invite_code"])
    await join(client, mid["invite_code"])
    # Team size 3, but team sales are still zero: no partner yet.
    assert (await client.execute(ME, token=top["token"]))["myDistributor"]["grade"]["name"] == "普通"
    await _completed_sale(client, app_state, mid, 1000)
    # Sales in the subtree count for the upline's team sales.
    assert (await client.execute(ME, token=top["token"]))["myDistributor"]["grade"] == {
        "name": "合伙人", "level": 2, "isPartner": True}
    assert (await client.execute(ME, token=mid["token"]))["myDistributor"]["grade"]["name"] == "普通"
