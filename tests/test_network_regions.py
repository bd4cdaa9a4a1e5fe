"""Regions (province / city / district) and regional agents (区域代理)."""

from __future__ import annotations

from datetime import date, timedelta

from models.base import utcnow
from services import region as region_service
from tests.factories import APPLY, direct_program, join, register

APPLY_AGENT = """
mutation($input: RegionalAgentApplyInput!) {
  regionalAgentApply(input: $input) { agent { id status region { code name level } } userErrors { field code } }
}"""
REVIEW_AGENT = """
mutation($input: RegionalAgentReviewInput!) {
  regionalAgentReview(input: $input) { agent { id status rate startsOn endsOn } userErrors { field code message } }
}"""
REGION_DISTRIBUTORS = """
query($code: String!) { regionDistributors(regionCode: $code) { nodes { nickname phone region { name } } } }"""


async def _load(app_state):
    async with app_state.sessionmaker() as session:
        added = await region_service.load_regions(session)
        await session.commit()
    async with app_state.sessionmaker() as session:
        assert await region_service.load_regions(session) == 0  # idempotent
    return added


async def test_region_tree(client, app_state):
    assert await _load(app_state) > 20
    provinces = (await client.execute("{ regions { code name level parentCode } }"))["regions"]
    assert [p["name"] for p in provinces] == ["北京市", "上海市", "浙江省", "广东省"]
    assert provinces[3] == {"code": "440000", "name": "广东省", "level": "PROVINCE", "parentCode": None}
    cities = (await client.execute('{ regions(parentCode: "440000") { code name level } }'))["regions"]
    assert [(c["code"], c["name"], c["level"]) for c in cities][:2] == [("440100", "广州市", "CITY"),
                                                                       ("440300", "深圳市", "CITY")]
    districts = (await client.execute('{ regions(parentCode: "440300") { name level } }'))["regions"]
    assert {"name": "南山区", "level": "DISTRICT"} in districts


async def test_regional_agent_lifecycle_and_visibility(client, app_state):
    await _load(app_state)
    admin = await direct_program(client, app_state)
    agent_user = await join(client, nickname="agent")
    rival = await join(client, nickname="rival")

    # Distributors registered in 南山区 (深圳) and 天河区 (广州).
    nanshan = await register(client, nickname="nanshan")
    await client.execute(APPLY, {"input": {"agreementVersion": "1", "regionCode": "440305"}},
                         token=nanshan["accessToken"])
    tianhe = await register(client, nickname="tianhe")
    await client.execute(APPLY, {"input": {"agreementVersion": "1", "regionCode": "440106"}},
                         token=tianhe["accessToken"])

    customer = await register(client)
    refused = (await client.execute(APPLY_AGENT, {"input": {"regionCode": "440300"}},
                                    token=customer["accessToken"]))["regionalAgentApply"]
    assert refused["userErrors"][0]["code"] == "NOT_A_DISTRIBUTOR"
    applied = (await client.execute(APPLY_AGENT, {"input": {"regionCode": "440300"}}, token=agent_user["token"])
               )["regionalAgentApply"]
    assert applied["agent"]["status"] == "PENDING"
    assert applied["agent"]["region"] == {"code": "440300", "name": "深圳市", "level": "CITY"}
    rival_app = (await client.execute(APPLY_AGENT, {"input": {"regionCode": "440300"}}, token=rival["token"])
                 )["regionalAgentApply"]["agent"]

    # Before approval the applicant cannot see the region's distributors.
    errors = await client.errors(REGION_DISTRIBUTORS, {"code": "440300"}, token=agent_user["token"])
    assert errors[0]["extensions"]["code"] == "FORBIDDEN"

    today = utcnow().date()
    term = {"agentId": applied["agent"]["id"], "approve": True, "rate": 150,
            "startsOn": (today - timedelta(days=1)).isoformat(), "endsOn": (today + timedelta(days=365)).isoformat()}
    bad = (await client.execute(REVIEW_AGENT, {"input": {**term, "endsOn": term["startsOn"]}}, token=admin)
           )["regionalAgentReview"]
    assert bad["userErrors"][0]["code"] == "INVALID"
    approved = (await client.execute(REVIEW_AGENT, {"input": term}, token=admin))["regionalAgentReview"]
    assert approved["agent"]["status"] == "ACTIVE" and approved["agent"]["rate"] == 150

    # One active agent per region: the rival's application cannot be approved, nor can anyone apply anew.
    taken = (await client.execute(REVIEW_AGENT, {"input": {**term, "agentId": rival_app["id"]}}, token=admin)
             )["regionalAgentReview"]
    assert taken["userErrors"][0]["code"] == "REGION_TAKEN"
    again = (await client.execute(APPLY_AGENT, {"input": {"regionCode": "440300"}}, token=rival["token"])
             )["regionalAgentApply"]
    assert again["userErrors"] == [{"field": "regionCode", "code": "REGION_TAKEN"}]

    # The agent sees the distributors registered in their city (districts included), masked.
    seen = (await client.execute(REGION_DISTRIBUTORS, {"code": "440300"}, token=agent_user["token"])
            )["regionDistributors"]["nodes"]
    assert [(n["nickname"], n["region"]["name"]) for n in seen] == [("nanshan", "南山区")]
    assert seen[0]["phone"] == nanshan["user"]["phone"][:3] + "****" + nanshan["user"]["phone"][-4:]
    seen = (await client.execute(REGION_DISTRIBUTORS, {"code": "440305"}, token=agent_user["token"])
            )["regionDistributors"]["nodes"]
    assert len(seen) == 1
    # ... but not another city's; staff see any.
    errors = await client.errors(REGION_DISTRIBUTORS, {"code": "440100"}, token=agent_user["token"])
    assert errors[0]["extensions"]["code"] == "FORBIDDEN"
    staff_seen = (await client.execute(REGION_DISTRIBUTORS, {"code": "440000"}, token=admin)
                  )["regionDistributors"]["nodes"]
    assert sorted(n["nickname"] for n in staff_seen) == ["nanshan", "tianhe"]

    mine = (await client.execute("{ myRegionalAgencies { status rate endsOn region { name } } }",
                                 token=agent_user["token"]))["myRegionalAgencies"]
    assert mine == [{"status": "ACTIVE", "rate": 150, "endsOn": term["endsOn"], "region": {"name": "深圳市"}}]

    # When the term ends (the job), the region is free again and the access is gone.
    async with app_state.sessionmaker() as session:
        assert await region_service.end_expired_terms(session, today + timedelta(days=400)) == 1
        await session.commit()
    errors = await client.errors(REGION_DISTRIBUTORS, {"code": "440300"}, token=agent_user["token"])
    assert errors[0]["extensions"]["code"] == "FORBIDDEN"
    approved = (await client.execute(REVIEW_AGENT, {"input": {**term, "agentId": rival_app["id"]}}, token=admin)
                )["regionalAgentReview"]
    assert approved["userErrors"] == [] and approved["agent"]["status"] == "ACTIVE"
    assert isinstance(date.fromisoformat(approved["agent"]["startsOn"]), date)

    # A province agent too: the district's chain of agents is the city's, then the province's.
    province = (await client.execute(APPLY_AGENT, {"input": {"regionCode": "440000"}}, token=agent_user["token"])
                )["regionalAgentApply"]["agent"]
    await client.execute(REVIEW_AGENT, {"input": {**term, "agentId": province["id"], "rate": 50}}, token=admin)
    async with app_state.sessionmaker() as session:
        chain = await region_service.active_agents_for_region(session, 440305)
        assert [(a.region_id, a.rate_bps) for a in chain] == [(440300, 150), (440000, 50)]
        assert await region_service.active_agents_for_region(session, 110101) == []
        from core.ids import decode_global_id

        regions = await region_service.agency_regions(session, decode_global_id(agent_user["user_id"])[1])
        assert [r.name for r in regions] == ["广东省"]
    # Agent records are nodes for their distributor and staff only.
    node = "query($id: ID!) { node(id: $id) { ... on RegionalAgent { status region { name } } } }"
    assert (await client.execute(node, {"id": province["id"]}, token=agent_user["token"]))["node"] == {
        "status": "ACTIVE", "region": {"name": "广东省"}}
    assert (await client.execute(node, {"id": province["id"]}, token=rival["token"]))["node"] is None
