"""Arranging test data through the API, the way a client would."""

from __future__ import annotations

import itertools
import weakref

from tests.support import GraphQLClient

PASSWORD = "s3cret-pass"
VALID_ID_CARD = "11010519491231002X"
_phones = itertools.count(13900000000)

REGISTER = """
mutation($input: RegisterInput!) {
  register(input: $input) {
    accessToken refreshToken user { id phone nickname }
    userErrors { field code message }
  }
}"""


def next_phone() -> str:
    return str(next(_phones))


async def register(client: GraphQLClient, phone: str | None = None, nickname: str = "", **headers) -> dict:
    data = await client.execute(REGISTER, {"input": {"phone": phone or next_phone(), "password": PASSWORD,
                                                     "nickname": nickname}}, headers=headers or None)
    payload = data["register"]
    assert payload["userErrors"] == [], payload["userErrors"]
    return payload


async def staff(client: GraphQLClient, app_state, permissions: set[str] | None = None) -> dict:
    """A staff account with the given permissions (all when None), signed in."""
    from auth.permissions import Permission
    from services.account import create_staff

    phone = next_phone()
    perms = set(Permission) if permissions is None else {Permission(p) for p in permissions}
    async with app_state.writer_sessionmaker() as session:
        await create_staff(session, phone=phone, password=PASSWORD, nickname="staff", permissions=perms,
                           actor_id=None)
        await session.commit()
    data = await client.execute(
        "mutation($i: LoginInput!) { login(input: $i) { accessToken user { id } userErrors { code } } }",
        {"i": {"phone": phone, "password": PASSWORD}})
    return data["login"]


_back_office_tokens: weakref.WeakKeyDictionary[GraphQLClient, str] = weakref.WeakKeyDictionary()


async def back_office(client: GraphQLClient, app_state) -> str:
    """A token of a staff account with every permission, created once per client and shared by the
    helpers that arrange data through the API."""
    if client not in _back_office_tokens:
        _back_office_tokens[client] = (await staff(client, app_state))["accessToken"]
    return _back_office_tokens[client]


# ---------------------------------------------------------------- the distributor network

PROGRAM_UPDATE = """
mutation($input: DistributorProgramInput!) {
  distributorProgramUpdate(input: $input) {
    program { joinMode bindingMode protectionDays commissionDepth agreementVersion }
    userErrors { field code message }
  }
}"""
ARRIVE = """
mutation($input: ArriveInput!) {
  arrive(input: $input) {
    bound sharedProductId reason { code message }
    binding { source boundAt expiresAt distributorNickname }
    userErrors { field code message }
  }
}"""
APPLY = """
mutation($input: DistributorApplyInput!) {
  distributorApply(input: $input) {
    application { id status agreementVersion realName idCardNumber formData { key value } rejectReason
                  distributor { id status inviteCode } }
    userErrors { field code message }
  }
}"""
MY_DISTRIBUTOR = "{ myDistributor { id status inviteCode depth grade { name level } upline { id } } }"


async def set_program(client: GraphQLClient, staff_token: str, **fields) -> dict:
    data = await client.execute(PROGRAM_UPDATE, {"input": fields}, token=staff_token)
    payload = data["distributorProgramUpdate"]
    assert payload["userErrors"] == [], payload["userErrors"]
    return payload["program"]


async def arrive(client: GraphQLClient, token: str | None, **source) -> dict:
    data = await client.execute(ARRIVE, {"input": source}, token=token)
    return data["arrive"]


async def join(client: GraphQLClient, invite_code: str | None = None, nickname: str = "",
               agreement_version: str = "1", real_name: str | None = None) -> dict:
    """Register a customer, arrive through `invite_code` (if any) and apply (with a real name and
    ID card when `real_name` is given); in DIRECT mode the customer is an active distributor
    afterwards. Returns token, user id, distributor id, code."""
    user = await register(client, nickname=nickname)
    token = user["accessToken"]
    if invite_code:
        await arrive(client, token, inviteCode=invite_code)
    apply_input = {"agreementVersion": agreement_version}
    if real_name is not None:
        apply_input.update(realName=real_name, idCardNumber=VALID_ID_CARD)
    data = await client.execute(APPLY, {"input": apply_input}, token=token)
    payload = data["distributorApply"]
    assert payload["userErrors"] == [], payload["userErrors"]
    distributor = payload["application"]["distributor"]
    return {"token": token, "user_id": user["user"]["id"], "phone": user["user"]["phone"],
            "id": distributor["id"], "invite_code": distributor["inviteCode"], "status": distributor["status"]}


async def direct_program(client: GraphQLClient, app_state, **fields) -> str:
    """A MANAGE_DISTRIBUTORS staff token, with the program set to direct join (plus `fields`)."""
    admin = await staff(client, app_state, {"MANAGE_DISTRIBUTORS"})
    await set_program(client, admin["accessToken"], joinMode="DIRECT", **fields)
    return admin["accessToken"]


async def build_team(app_state, root_user_id: int, widths: tuple[int, ...]) -> int:
    """Insert a team under the distributor of `root_user_id`: `widths[0]` direct members, each with
    `widths[1]` members, and so on. Returns the number inserted. Written to the database because
    a thousand joins through the API would take minutes; only the team queries read it."""
    from sqlalchemy import insert, select, update

    from models.account import User
    from models.base import utcnow
    from models.network import Distributor, DistributorStatus

    async with app_state.writer_sessionmaker() as session:
        root = await session.scalar(select(Distributor).where(Distributor.user_id == root_user_id))
        level = [root]
        total = 0
        for width in widths:
            parents = [(p.id, p.path, p.depth) for p in level]
            count = len(parents) * width
            phones = [next_phone() for _ in range(count)]
            user_ids = list((await session.scalars(
                insert(User).returning(User.id, sort_by_parameter_order=True),
                [{"phone": p, "nickname": f"m{p[-4:]}", "is_active": True, "is_staff": False,
                  "created_at": utcnow()} for p in phones])).all())
            now = utcnow()
            rows = []
            for i, user_id in enumerate(user_ids):
                parent_id, _, parent_depth = parents[i // width]
                rows.append({"user_id": user_id, "status": DistributorStatus.ACTIVE, "parent_id": parent_id,
                             "depth": parent_depth + 1, "joined_at": now, "created_at": now,
                             "status_changed_at": now, "personal_sales_fen": 0, "personal_order_count": 0,
                             "path": None})
            ids = list((await session.scalars(insert(Distributor).returning(Distributor.id, sort_by_parameter_order=True), rows)).all())
            paths = {pid: path for pid, path, _ in parents}
            await session.execute(update(Distributor), [
                {"id": did, "path": f"{paths[rows[i]['parent_id']]}{did}/"} for i, did in enumerate(ids)])
            level = list((await session.scalars(select(Distributor).where(Distributor.id.in_(ids)))).all())
            total += count
        await session.commit()
    return total


# ---------------------------------------------------------------- withdrawals

WECHAT_LOGIN = """
mutation($input: WeChatLoginInput!) {
  wechatLogin(input: $input) { accessToken user { id phone } userErrors { field code message } }
}"""


async def verified_distributor(client: GraphQLClient, app_state, *, real_name: str | None = "张三",
                               wechat_code: str | None = None) -> dict:
    """An active distributor who joined (direct mode) with real name and ID card (unless
    real_name is None) and the current agreement; signed in by phone, or through the
    mini-program when `wechat_code` is given. Returns token, user_id (global) and pk."""
    from core.ids import decode_global_id

    await direct_program(client, app_state)
    if wechat_code:
        data = await client.execute(WECHAT_LOGIN, {"input": {"code": wechat_code, "nickname": "wx"}})
        user = data["wechatLogin"]
    else:
        user = await register(client)
    token = user["accessToken"]
    apply_input = {"agreementVersion": "1"}
    if real_name is not None:
        apply_input.update(realName=real_name, idCardNumber=VALID_ID_CARD)
    data = await client.execute(APPLY, {"input": apply_input}, token=token)
    payload = data["distributorApply"]
    assert payload["userErrors"] == [], payload["userErrors"]
    assert payload["application"]["distributor"]["status"] == "ACTIVE"
    return {"token": token, "user_id": user["user"]["id"], "pk": decode_global_id(user["user"]["id"])[1],
            "distributor_id": payload["application"]["distributor"]["id"]}


# ---------------------------------------------------------------- the catalog

PRODUCT_CREATE = """
mutation($input: ProductInput!) {
  productCreate(input: $input) {
    product { id title onShelf skus { id code listPrice stock } }
    userErrors { field code message }
  }
}"""


async def catalog_staff(client: GraphQLClient, app_state) -> str:
    """A MANAGE_CATALOG staff token."""
    return (await staff(client, app_state, {"MANAGE_CATALOG"}))["accessToken"]


async def create_product(client: GraphQLClient, token: str, title: str = "龙井茶", *, on_shelf: bool = True,
                         skus: list[dict] | None = None, **fields) -> dict:
    """A product (on shelf by default) with SKUs (default: one at 100.00 with stock 10)."""
    skus = skus if skus is not None else [{"code": f"SKU{next_phone()}", "price": "100.00", "stock": 10}]
    data = await client.execute(PRODUCT_CREATE, {"input": {"title": title, "onShelf": on_shelf, "skus": skus,
                                                           **fields}}, token=token)
    payload = data["productCreate"]
    assert payload["userErrors"] == [], payload["userErrors"]
    return payload["product"]
