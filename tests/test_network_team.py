"""Team trees: who may see which team, what a team shows, and that the SQL does not grow with it."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from core.ids import decode_global_id
from models.base import utcnow
from models.network import Distributor
from services import network as network_service
from tests.factories import build_team, direct_program, join

TEAM = """
query($d: ID, $depth: Int, $first: Int, $since: DateTime) {
  team(distributorId: $d) {
    distributor { id }
    size directCount depthCounts { depth count }
    newMembers(since: $since)
    members(depth: $depth, first: $first) {
      pageInfo { hasNextPage endCursor }
      nodes { id depth joinedAt phone nickname teamSize inviteCode grade { name } }
    }
  }
}"""


async def test_team_queries_and_masking(client, app_state):
    admin = await direct_program(client, app_state)
    await client.execute("""mutation { gradeCreate(input: {name: "普通", level: 1}) { userErrors { code } } }""",
                         token=admin)
    root = await join(client, nickname="root")
    a = await join(client, root["invite_code"], nickname="a")
    b = await join(client, root["invite_code"], nickname="b")
    a1 = await join(client, a["invite_code"], nickname="a1")
    a2 = await join(client, a["invite_code"], nickname="a2")
    a11 = await join(client, a1["invite_code"], nickname="a11")

    team = (await client.execute(TEAM, {"depth": 1}, token=root["token"]))["team"]
    assert team["distributor"] == {"id": root["id"]}
    assert team["size"] == 5 and team["directCount"] == 2
    assert team["depthCounts"] == [{"depth": 1, "count": 2}, {"depth": 2, "count": 2}, {"depth": 3, "count": 1}]
    assert team["newMembers"] == 5
    nodes = team["members"]["nodes"]
    assert [n["nickname"] for n in nodes] == ["a", "b"]
    assert [n["teamSize"] for n in nodes] == [3, 0]
    # Members' phones are masked, their invite codes hidden; everyone has the first grade.
    assert nodes[0]["phone"] == a["phone"][:3] + "****" + a["phone"][-4:]
    assert nodes[0]["inviteCode"] is None and nodes[0]["grade"] == {"name": "普通"}

    deep = (await client.execute(TEAM, {"depth": 3, "first": 2}, token=root["token"]))["team"]["members"]
    assert [n["nickname"] for n in deep["nodes"]] == ["a", "b"] and deep["pageInfo"]["hasNextPage"] is True
    rest = await client.execute("""query($after: String) { team { members(depth: 3, first: 10, after: $after) {
        nodes { nickname } pageInfo { hasNextPage } } } }""", {"after": deep["pageInfo"]["endCursor"]},
                                token=root["token"])
    assert [n["nickname"] for n in rest["team"]["members"]["nodes"]] == ["a1", "a2", "a11"]

    future = (utcnow() + timedelta(days=1)).isoformat().replace("+00:00", "Z")
    assert (await client.execute(TEAM, {"since": future}, token=root["token"]))["team"]["newMembers"] == 0

    # An upline sees a member's team inside their own subtree.
    sub = (await client.execute(TEAM, {"d": a1["id"], "depth": 2}, token=root["token"]))["team"]
    assert sub["size"] == 1 and [n["nickname"] for n in sub["members"]["nodes"]] == ["a11"]
    # Staff see any team, with phones unmasked.
    staff_view = (await client.execute(TEAM, {"d": a["id"]}, token=admin))["team"]
    assert staff_view["members"]["nodes"][0]["phone"] == a1["phone"]
    # A distributor reading another team (a sibling's, or their upline's) is refused.
    for other in (b["id"], root["id"]):
        errors = await client.errors(TEAM, {"d": other}, token=a["token"])
        assert errors[0]["extensions"]["code"] == "FORBIDDEN"
        assert errors[0]["message"] == "You can only see your own team."
    assert await client.execute("query($id: ID!) { node(id: $id) { id } }", {"id": b["id"]},
                                token=a["token"]) == {"node": None}
    assert (await client.execute("query($id: ID!) { node(id: $id) { id } }", {"id": a2["id"]},
                                 token=a["token"]))["node"] == {"id": a2["id"]}
    assert a11  # the third level exists


async def test_team_of_a_customer_is_refused(client, app_state):
    from tests.factories import register

    customer = await register(client)
    errors = await client.errors("{ team { size } }", token=customer["accessToken"])
    assert errors[0]["extensions"]["code"] == "NOT_A_DISTRIBUTOR"
    errors = await client.errors("{ team { size } }")
    assert errors[0]["extensions"]["code"] == "NOT_AUTHENTICATED"


async def test_team_statement_count_does_not_grow_with_the_team(client, app_state, statements):
    await direct_program(client, app_state)
    small = await join(client, nickname="small")
    big = await join(client, nickname="big")
    await build_team(app_state, decode_global_id(small["user_id"])[1], (2, 2, 2))
    inserted = await build_team(app_state, decode_global_id(big["user_id"])[1], (10, 9, 10))
    assert inserted == 10 + 90 + 900

    async def count(token):
        statements.reset()
        data = (await client.execute(TEAM, {"depth": 3, "first": 100}, token=token))["team"]
        return statements.count, data

    small_count, small_team = await count(small["token"])
    big_count, big_team = await count(big["token"])
    assert small_team["size"] == 14 and big_team["size"] == 1000
    assert big_team["depthCounts"] == [{"depth": 1, "count": 10}, {"depth": 2, "count": 90},
                                       {"depth": 3, "count": 900}]
    assert len(big_team["members"]["nodes"]) == 100
    assert big_team["members"]["nodes"][0]["teamSize"] == 99
    assert big_count == small_count
    assert big_count <= 10, statements.statements


async def test_ancestors_for_commission_one_query_nearest_first(client, app_state, statements):
    await direct_program(client, app_state)
    chain = [await join(client, nickname="d0")]
    for i in range(1, 5):
        chain.append(await join(client, chain[-1]["invite_code"], nickname=f"d{i}"))
    ids = [decode_global_id(d["id"])[1] for d in chain]
    async with app_state.sessionmaker() as session:
        statements.reset()
        uplines = await network_service.ancestors_for_commission(session, ids[-1], 3)
        assert statements.count == 1
        assert [d.id for d in uplines] == [ids[3], ids[2], ids[1]]
        # A fourth tier is never returned, whatever is asked.
        assert [d.id for d in await network_service.ancestors_for_commission(session, ids[-1], 9)] == [
            ids[3], ids[2], ids[1]]
        assert [d.id for d in await network_service.ancestors_for_commission(session, ids[1], 3)] == [ids[0]]
        assert await network_service.ancestors_for_commission(session, ids[0], 3) == []
        # Paths hold the chain for subtree range scans.
        last = await session.scalar(select(Distributor).where(Distributor.id == ids[-1]))
        assert last.path == "/" + "/".join(map(str, ids)) + "/" and last.depth == 4
