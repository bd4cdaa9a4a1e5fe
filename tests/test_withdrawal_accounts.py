"""Payout accounts through the GraphQL API: add, list, default, remove, and every refusal."""

from __future__ import annotations

from sqlalchemy import select

from models.audit import AuditEntry
from models.withdrawal import PayoutAccount
from tests.factories import register, staff, verified_distributor
from tests.withdrawal_support import ACCOUNT_FIELDS, ADD, ALIPAY, CARD, add, codes

SET_DEFAULT = f"""
mutation($id: ID!) {{
  payoutAccountSetDefault(id: $id) {{ payoutAccount {{ {ACCOUNT_FIELDS} }} userErrors {{ field code message }} }}
}}"""
REMOVE = f"""
mutation($id: ID!) {{
  payoutAccountRemove(id: $id) {{ payoutAccount {{ {ACCOUNT_FIELDS} }} userErrors {{ field code message }} }}
}}"""
MINE = f"{{ myPayoutAccounts {{ {ACCOUNT_FIELDS} }} }}"
NODE = "query($id: ID!) { node(id: $id) { ... on PayoutAccount { id accountNumber } } }"


async def test_add_bank_card_alipay_and_wechat_masked_and_encrypted(client, app_state, db):
    me = await verified_distributor(client, app_state, wechat_code="code-wd-1")
    card = await add(client, me["token"], **CARD)
    assert card["userErrors"] == []
    assert card["payoutAccount"] == {
        "id": card["payoutAccount"]["id"], "method": "BANK_CARD", "bankName": "工商银行", "branchName": "北京分行",
        "holderName": "张三", "accountNumber": "6222 **** **** 1234", "isDefault": True, "removedAt": None}
    alipay = await add(client, me["token"], **ALIPAY)
    assert alipay["payoutAccount"]["accountNumber"] == "138****1234"
    assert alipay["payoutAccount"]["isDefault"] is False
    email = await add(client, me["token"], method="ALIPAY", holderName=" 张 三 ", accountNumber="Zhang.San@Example.com")
    assert email["payoutAccount"]["accountNumber"] == "z***@example.com"
    wechat = await add(client, me["token"], method="WECHAT", makeDefault=True)
    assert wechat["userErrors"] == []
    assert wechat["payoutAccount"]["holderName"] == "张三"
    openid = wechat["payoutAccount"]["accountNumber"]
    assert openid.startswith("sand****") and len(openid) == 12
    assert wechat["payoutAccount"]["isDefault"] is True

    listed = (await client.execute(MINE, token=me["token"]))["myPayoutAccounts"]
    assert [a["method"] for a in listed] == ["WECHAT", "BANK_CARD", "ALIPAY", "ALIPAY"]
    assert [a["isDefault"] for a in listed] == [True, False, False, False]

    # At rest: encrypted, never the plain number.
    rows = (await db.scalars(select(PayoutAccount))).all()
    assert len(rows) == 4
    for row in rows:
        assert "6222021234561234" not in row.number_encrypted and "13812341234" not in row.number_encrypted
        assert row.number_encrypted.startswith("v1:")
    actions = (await db.scalars(select(AuditEntry.action).where(AuditEntry.subject_type == "PayoutAccount"))).all()
    assert actions == ["payout_account.add"] * 4


async def test_add_refusals(client, app_state):
    me = await verified_distributor(client, app_state)
    cases = [
        ({**CARD, "holderName": "李四"}, "HOLDER_NAME_MISMATCH", "holderName"),
        ({**ALIPAY, "holderName": "李四"}, "HOLDER_NAME_MISMATCH", "holderName"),
        ({**CARD, "holderName": ""}, "REQUIRED", "holderName"),
        ({**CARD, "accountNumber": "1234"}, "INVALID_ACCOUNT_NUMBER", "accountNumber"),
        ({**CARD, "accountNumber": "6222abcd34561234"}, "INVALID_ACCOUNT_NUMBER", "accountNumber"),
        ({**CARD, "bankName": None}, "REQUIRED", "bankName"),
        ({**ALIPAY, "accountNumber": "not-an-account"}, "INVALID_ACCOUNT_NUMBER", "accountNumber"),
        ({"method": "WECHAT"}, "WECHAT_NOT_BOUND", "method"),  # signed up by phone, never in the mini-program
    ]
    for fields, code, field in cases:
        payload = await add(client, me["token"], **fields)
        assert payload["payoutAccount"] is None
        assert codes(payload) == [(code, field)], fields
    assert (await add(client, me["token"], **CARD))["userErrors"] == []
    again = await add(client, me["token"], **{**CARD, "accountNumber": "6222021234561234"})
    assert codes(again) == [("PAYOUT_ACCOUNT_EXISTS", "accountNumber")]
    for i in range(9):
        assert (await add(client, me["token"], **{**CARD, "accountNumber": f"62220212345{i:05d}"}))["userErrors"] == []
    too_many = await add(client, me["token"], **{**CARD, "accountNumber": "6222021234599999"})
    assert codes(too_many) == [("INVALID", None)]


async def test_only_verified_distributors_add_accounts(client, app_state):
    customer = await register(client)
    assert codes(await add(client, customer["accessToken"], **CARD)) == [("NOT_A_DISTRIBUTOR", None)]
    unverified = await verified_distributor(client, app_state, real_name=None)
    assert codes(await add(client, unverified["token"], **CARD)) == [("REAL_NAME_REQUIRED", None)]
    data = await client.execute(ADD, {"input": CARD})
    assert codes(data["payoutAccountAdd"]) == [("NOT_AUTHENTICATED", None)]


async def test_set_default_and_remove(client, app_state, db):
    me = await verified_distributor(client, app_state)
    first = (await add(client, me["token"], **CARD))["payoutAccount"]
    second = (await add(client, me["token"], **ALIPAY))["payoutAccount"]
    third = (await add(client, me["token"], **{**CARD, "accountNumber": "6222021234565678"}))["payoutAccount"]
    data = await client.execute(SET_DEFAULT, {"id": third["id"]}, token=me["token"])
    assert data["payoutAccountSetDefault"]["payoutAccount"]["isDefault"] is True
    listed = (await client.execute(MINE, token=me["token"]))["myPayoutAccounts"]
    assert [(a["id"], a["isDefault"]) for a in listed] == [(third["id"], True), (first["id"], False),
                                                           (second["id"], False)]
    # Removing the default passes it to the newest remaining account.
    removed = (await client.execute(REMOVE, {"id": third["id"]}, token=me["token"]))["payoutAccountRemove"]
    assert removed["userErrors"] == [] and removed["payoutAccount"]["removedAt"] is not None
    listed = (await client.execute(MINE, token=me["token"]))["myPayoutAccounts"]
    assert [(a["id"], a["isDefault"]) for a in listed] == [(second["id"], True), (first["id"], False)]
    again = (await client.execute(REMOVE, {"id": third["id"]}, token=me["token"]))["payoutAccountRemove"]
    assert codes(again) == [("NOT_FOUND", "id")]
    assert (await db.scalar(select(AuditEntry.action).where(AuditEntry.subject_type == "PayoutAccount",
                                                              AuditEntry.action == "payout_account.remove")))


async def test_accounts_are_private(client, app_state):
    me = await verified_distributor(client, app_state)
    other = await verified_distributor(client, app_state, real_name="李四")
    mine = (await add(client, me["token"], **CARD))["payoutAccount"]
    for mutation, name in ((SET_DEFAULT, "payoutAccountSetDefault"), (REMOVE, "payoutAccountRemove")):
        data = await client.execute(mutation, {"id": mine["id"]}, token=other["token"])
        assert codes(data[name]) == [("NOT_FOUND", "id")]
    assert (await client.execute(MINE, token=other["token"]))["myPayoutAccounts"] == []
    assert (await client.execute(NODE, {"id": mine["id"]}, token=other["token"]))["node"] is None
    assert (await client.execute(NODE, {"id": mine["id"]}))["node"] is None
    reports = await staff(client, app_state, {"VIEW_REPORTS", "MANAGE_DISTRIBUTORS"})
    assert (await client.execute(NODE, {"id": mine["id"]}, token=reports["accessToken"]))["node"] is None
    owner_view = (await client.execute(NODE, {"id": mine["id"]}, token=me["token"]))["node"]
    assert owner_view == {"id": mine["id"], "accountNumber": "6222 **** **** 1234"}
    finance = await staff(client, app_state, {"MANAGE_FINANCE"})
    finance_view = (await client.execute(NODE, {"id": mine["id"]}, token=finance["accessToken"]))["node"]
    assert finance_view == {"id": mine["id"], "accountNumber": "6222021234561234"}
