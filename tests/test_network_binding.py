"""Binding (锁客/防跳码): invite codes, QR scenes, share links, binding modes, refusals, moves."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from core.ids import decode_global_id, encode_global_id
from models.account import User
from models.audit import AuditEntry
from models.base import utcnow
from models.network import CustomerBinding, Visit
from services import binding as binding_service
from tests.factories import (
    APPLY,
    MY_DISTRIBUTOR,
    arrive,
    back_office,
    create_product,
    direct_program,
    join,
    register,
    set_program,
)

SHARE = """
mutation($input: ShareLinkCreateInput!) {
  shareLinkCreate(input: $input) { shareLink { id kind token productId visitCount } userErrors { code field } }
}"""
MY_LINKS = "{ myShareLinks { nodes { token kind productId visitCount } } }"
BINDING = """query($c: ID) {
  customerBinding(customerId: $c) { source distributorNickname expiresAt distributor { id } } }"""
MOVE = """
mutation($input: DistributorMoveInput!) {
  distributorMove(input: $input) { distributor { id depth upline { id } } userErrors { field code message } }
}"""
RELEASE = """
mutation($input: BindingReleaseInput!) {
  customerBindingRelease(input: $input) { released userErrors { field code message } }
}"""
TEAM_IDS = "query($d: ID) { team(distributorId: $d) { size members(depth: 5, first: 50) { nodes { id depth } } } }"


async def test_invite_code_binds_and_first_touch_protects(client, app_state):
    admin = await direct_program(client, app_state, protectionDays=15)
    alice = await join(client, nickname="alice")
    bob = await join(client, nickname="bob")
    customer = await register(client)
    token = customer["accessToken"]

    first = await arrive(client, token, inviteCode=alice["invite_code"].lower())
    assert first["bound"] is True and first["userErrors"] == []
    assert first["binding"]["source"] == "INVITE_CODE"
    assert first["binding"]["distributorNickname"] == "alice"

    second = await arrive(client, token, inviteCode=bob["invite_code"])
    assert second["bound"] is False
    assert second["reason"]["code"] == "CUSTOMER_PROTECTED"
    assert second["reason"]["message"].startswith("You are bound to another distributor until ")
    assert second["userErrors"][0]["code"] == "CUSTOMER_PROTECTED"
    assert second["binding"]["distributorNickname"] == "alice"  # the existing binding stands

    # Staff see who the customer is bound to; the customer sees only the nickname.
    data = await client.execute(BINDING, {"c": customer["user"]["id"]}, token=admin)
    assert data["customerBinding"]["distributor"] == {"id": alice["id"]}
    data = await client.execute(BINDING, token=token)
    assert data["customerBinding"]["distributor"] is None
    errors = await client.errors(BINDING, {"c": customer["user"]["id"]}, token=bob["token"])
    assert errors[0]["extensions"]["code"] == "FORBIDDEN"

    # When the protection ends (the job releases it), the next arrival may bind elsewhere.
    async with app_state.sessionmaker() as session:
        released = await binding_service.release_expired(session, utcnow() + timedelta(days=16))
        await session.commit()
    assert released == 1
    assert (await client.execute(BINDING, token=token))["customerBinding"] is None
    third = await arrive(client, token, inviteCode=bob["invite_code"])
    assert third["bound"] is True and third["binding"]["distributorNickname"] == "bob"

    # When the customer becomes a distributor, the bound distributor is the upline.
    await client.execute(APPLY, {"input": {"agreementVersion": "1"}}, token=token)
    me = (await client.execute(MY_DISTRIBUTOR, token=token))["myDistributor"]
    assert me["upline"] == {"id": bob["id"]} and me["depth"] == 1


async def test_permanent_protection_and_last_touch(client, app_state):
    admin = await direct_program(client, app_state, protectionDays=None)
    alice, bob = await join(client, nickname="alice"), await join(client, nickname="bob")
    customer = await register(client)
    bound = await arrive(client, customer["accessToken"], inviteCode=alice["invite_code"])
    assert bound["binding"]["expiresAt"] is None
    async with app_state.sessionmaker() as session:
        assert await binding_service.release_expired(session, utcnow() + timedelta(days=3650)) == 0
    refused = await arrive(client, customer["accessToken"], inviteCode=bob["invite_code"])
    assert refused["reason"]["code"] == "CUSTOMER_PROTECTED"
    assert "permanently" in refused["reason"]["message"]

    await set_program(client, admin, bindingMode="LAST_TOUCH", protectionDays=7)
    rebound = await arrive(client, customer["accessToken"], inviteCode=bob["invite_code"])
    assert rebound["bound"] is True and rebound["binding"]["distributorNickname"] == "bob"
    back = await arrive(client, customer["accessToken"], inviteCode=alice["invite_code"])
    assert back["bound"] is True and back["binding"]["distributorNickname"] == "alice"


async def test_new_users_only(client, app_state, db):
    admin = await direct_program(client, app_state)
    await set_program(client, admin, bindingMode="NEW_USERS_ONLY")
    alice, bob = await join(client, nickname="alice"), await join(client, nickname="bob")
    newcomer = await register(client)
    assert (await arrive(client, newcomer["accessToken"], inviteCode=alice["invite_code"]))["bound"] is True
    again = await arrive(client, newcomer["accessToken"], inviteCode=bob["invite_code"])
    assert again["bound"] is False and again["reason"]["code"] == "NOT_NEW_USER"
    assert again["binding"]["distributorNickname"] == "alice"

    old_timer = await register(client)
    user_id = decode_global_id(old_timer["user"]["id"])[1]
    # An account registered a month ago: the API cannot backdate a registration.
    await db.execute(update(User).where(User.id == user_id).values(created_at=utcnow() - timedelta(days=30)))
    await db.commit()
    late = await arrive(client, old_timer["accessToken"], inviteCode=bob["invite_code"])
    assert late["bound"] is False and late["reason"]["code"] == "NOT_NEW_USER" and late["binding"] is None


async def test_share_links_and_qr_scenes_record_visits(client, app_state, db):
    await direct_program(client, app_state)
    alice = await join(client, nickname="alice")
    product_id = (await create_product(client, await back_office(client, app_state), "龙井茶"))["id"]
    product_pk = decode_global_id(product_id)[1]
    link = (await client.execute(SHARE, {"input": {"kind": "SHARE_LINK", "productId": product_id}},
                                 token=alice["token"]))["shareLinkCreate"]["shareLink"]
    scene = (await client.execute(SHARE, {"input": {"kind": "QR_SCENE"}}, token=alice["token"])
             )["shareLinkCreate"]["shareLink"]
    assert link["productId"] == product_id and scene["productId"] is None and len(scene["token"]) <= 32
    for wrong, code in ((encode_global_id("Product", product_pk + 1000), "NOT_FOUND"),
                        (encode_global_id("Sku", product_pk), "INVALID")):
        refused = (await client.execute(SHARE, {"input": {"kind": "SHARE_LINK", "productId": wrong}},
                                        token=alice["token"]))["shareLinkCreate"]
        assert refused["shareLink"] is None and refused["userErrors"] == [{"code": code, "field": "productId"}]

    anonymous = await arrive(client, None, shareToken=link["token"])
    assert anonymous["bound"] is False and anonymous["reason"]["code"] == "NOT_AUTHENTICATED"
    assert anonymous["sharedProductId"] == product_id
    customer = await register(client)
    via_link = await arrive(client, customer["accessToken"], shareToken=link["token"])
    assert via_link["bound"] is True and via_link["binding"]["source"] == "SHARE_LINK"
    other = await register(client)
    via_scene = await arrive(client, other["accessToken"], scene=scene["token"])
    assert via_scene["bound"] is True and via_scene["binding"]["source"] == "QR_SCENE"
    await arrive(client, None, inviteCode=alice["invite_code"])

    links = (await client.execute(MY_LINKS, token=alice["token"]))["myShareLinks"]["nodes"]
    assert {(n["kind"], n["visitCount"]) for n in links} == {("SHARE_LINK", 2), ("QR_SCENE", 1)}
    outcomes = (await db.scalars(select(Visit.outcome).order_by(Visit.id))).all()
    assert outcomes == ["ANONYMOUS", "BOUND", "BOUND", "ANONYMOUS"]
    unknown = await client.execute("""mutation { arrive(input: {shareToken: "nope"}) {
        bound userErrors { field code } } }""", token=customer["accessToken"])
    assert unknown["arrive"]["userErrors"] == [{"field": "shareToken", "code": "NOT_FOUND"}]


async def test_self_binding_cycles_and_inactive_distributors_are_refused(client, app_state):
    admin = await direct_program(client, app_state)
    top = await join(client, nickname="top")
    middle = await join(client, top["invite_code"], nickname="middle")
    bottom = await join(client, middle["invite_code"], nickname="bottom")

    own = await arrive(client, top["token"], inviteCode=top["invite_code"])
    assert own["userErrors"] == [{"field": None, "code": "SELF_BINDING", "message": "You cannot bind to yourself."}]
    # The top distributor arriving through someone two levels down would make a cycle.
    cycle = await arrive(client, top["token"], inviteCode=bottom["invite_code"])
    assert cycle["bound"] is False and cycle["userErrors"][0]["code"] == "CYCLE"
    # A distributor who already has an upline is not rebound by arriving elsewhere.
    other = await join(client, nickname="other")
    has_upline = await arrive(client, middle["token"], inviteCode=other["invite_code"])
    assert has_upline["bound"] is False and has_upline["reason"]["code"] == "HAS_UPLINE"
    # A top-level distributor arriving through someone outside their team gains an upline, subtree and all.
    attached = await arrive(client, other["token"], inviteCode=bottom["invite_code"])
    assert attached["bound"] is True
    me = (await client.execute(MY_DISTRIBUTOR, token=other["token"]))["myDistributor"]
    assert me["depth"] == 3 and me["upline"] == {"id": bottom["id"]}

    # A frozen distributor takes no new bindings.
    await client.execute("""mutation($i: DistributorStatusInput!) { distributorStatusUpdate(input: $i) {
        userErrors { code } } }""", {"i": {"distributorId": middle["id"], "status": "FROZEN", "reason": "查"}},
                         token=admin)
    customer = await register(client)
    frozen = await arrive(client, customer["accessToken"], inviteCode=middle["invite_code"])
    assert frozen["bound"] is False and frozen["reason"]["code"] == "DISTRIBUTOR_INACTIVE"


async def test_staff_move_subtree_and_release_binding(client, app_state, db):
    admin = await direct_program(client, app_state)
    a = await join(client, nickname="a")
    b = await join(client, a["invite_code"], nickname="b")
    c = await join(client, b["invite_code"], nickname="c")
    d = await join(client, c["invite_code"], nickname="d")
    x = await join(client, nickname="x")

    async def move(who, upline, reason="调整团队", token=admin):
        return (await client.execute(MOVE, {"input": {"distributorId": who, "newUplineId": upline,
                                                      "reason": reason}}, token=token))["distributorMove"]

    assert (await move(b["id"], d["id"]))["userErrors"][0]["code"] == "CYCLE"
    assert (await move(b["id"], b["id"]))["userErrors"][0]["code"] == "SELF_BINDING"
    assert (await move(b["id"], x["id"], reason=""))["userErrors"][0]["code"] == "REQUIRED"
    assert (await move(b["id"], x["id"], token=a["token"]))["userErrors"][0]["code"] == "FORBIDDEN"
    moved = await move(b["id"], x["id"])
    assert moved["userErrors"] == []
    assert moved["distributor"] == {"id": b["id"], "depth": 1, "upline": {"id": x["id"]}}
    team = (await client.execute(TEAM_IDS, {"d": x["id"]}, token=admin))["team"]
    assert team["size"] == 3
    assert [(n["id"], n["depth"]) for n in team["members"]["nodes"]] == [(b["id"], 1), (c["id"], 2), (d["id"], 3)]
    assert (await client.execute(TEAM_IDS, {"d": a["id"]}, token=admin))["team"]["size"] == 0
    # Move to the top of the network.
    top = await move(c["id"], None)
    assert top["distributor"]["depth"] == 0 and top["distributor"]["upline"] is None
    assert (await client.execute(TEAM_IDS, {"d": c["id"]}, token=admin))["team"]["members"]["nodes"] == [
        {"id": d["id"], "depth": 1}]
    entries = (await db.scalars(select(AuditEntry).where(AuditEntry.action == "distributor.move")
                                .order_by(AuditEntry.id))).all()
    assert [(e.details, e.reason) for e in entries] == [
        ({"from_upline": decode_global_id(a["id"])[1], "to_upline": decode_global_id(x["id"])[1]}, "调整团队"),
        ({"from_upline": decode_global_id(b["id"])[1], "to_upline": None}, "调整团队")]

    customer = await register(client)
    await arrive(client, customer["accessToken"], inviteCode=a["invite_code"])
    release = {"customerId": customer["user"]["id"], "reason": "客户投诉"}
    assert (await client.execute(RELEASE, {"input": {**release, "reason": ""}}, token=admin)
            )["customerBindingRelease"]["userErrors"][0]["code"] == "REQUIRED"
    assert (await client.execute(RELEASE, {"input": release}, token=a["token"])
            )["customerBindingRelease"]["userErrors"][0]["code"] == "FORBIDDEN"
    assert (await client.execute(RELEASE, {"input": release}, token=admin))["customerBindingRelease"] == {
        "released": True, "userErrors": []}
    assert (await client.execute(RELEASE, {"input": release}, token=admin)
            )["customerBindingRelease"]["userErrors"][0]["code"] == "NOT_FOUND"
    await db.rollback()  # end the earlier read's snapshot
    customer_id = decode_global_id(customer["user"]["id"])[1]
    stored = (await db.scalars(select(CustomerBinding).where(CustomerBinding.customer_id == customer_id))).one()
    assert stored.release_reason == "STAFF" and stored.released_at is not None
    rebound = await arrive(client, customer["accessToken"], inviteCode=x["invite_code"])
    assert rebound["bound"] is True


async def test_concurrent_first_arrivals_bind_once(client, app_state):
    """Five distributors' links opened at the same moment by a new customer: exactly one binds,
    the others are told the customer is protected; nothing fails."""
    import asyncio

    from auth.viewer import Viewer
    from core.ids import decode_global_id
    from models.network import CustomerBinding
    from services import binding as binding_service
    from sqlalchemy import func, select

    await direct_program(client, app_state)
    sharers = [await join(client, nickname=f"s{i}") for i in range(5)]
    customer = await register(client)
    viewer = Viewer(user_id=decode_global_id(customer["user"]["id"])[1])

    async def arrive(code):
        async with app_state.writer_sessionmaker() as session:
            arrival = await binding_service.arrive(session, viewer, invite_code=code)
            await session.commit()
            return arrival.bound

    outcomes = await asyncio.gather(*(arrive(s["invite_code"]) for s in sharers))
    assert sorted(outcomes) == [False, False, False, False, True]
    async with app_state.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(CustomerBinding)) == 1
