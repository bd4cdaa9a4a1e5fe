"""Account numbers never leave the API unmasked except to finance staff.

The test introspects the schema: every type with an `accountNumber` field carries a number, every
root field from which such a type can be reached must be exercised here (so a new field that
exposes one fails this test until it is added), and each is queried with *every* field the
introspection finds, as the owner, another distributor, a report reader and finance staff.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from tests.factories import staff
from tests.realtime_support import live, wait_for_subscribers
from tests.withdrawal_support import ALIPAY, CARD, add, finance_token, funded, request

INTROSPECT = """
{ __schema {
    queryType { name } mutationType { name } subscriptionType { name }
    types { name kind
      possibleTypes { name }
      fields { name args { name type { kind ofType { kind } } defaultValue }
               type { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } } }"""

WECHAT_CODE = "code-masking"
PLAIN_CARD = "6222021234561234"
PLAIN_ALIPAY = "13812341234"
PLAIN_OPENID = "sandbox-" + hashlib.sha256(WECHAT_CODE.encode()).hexdigest()[:24]
PLAIN = (PLAIN_CARD, PLAIN_ALIPAY, PLAIN_OPENID)


def _named(type_ref) -> str:
    while type_ref.get("ofType"):
        type_ref = type_ref["ofType"]
    return type_ref["name"]


class Walker:
    def __init__(self, schema: dict) -> None:
        self.types = {t["name"]: t for t in schema["types"]}
        self.carriers = {name for name, t in self.types.items()
                         if any(f["name"] == "accountNumber" for f in t.get("fields") or [])}

    def _required_args(self, field) -> bool:
        return any(a["type"]["kind"] == "NON_NULL" and a["defaultValue"] is None for a in field["args"])

    def reaches(self, type_name: str, seen: frozenset = frozenset()) -> bool:
        """Whether a value of this type can contain an account number."""
        if type_name in self.carriers:
            return True
        if type_name in seen:
            return False
        t = self.types.get(type_name)
        if t is None or t["kind"] not in ("OBJECT", "INTERFACE", "UNION"):
            return False
        children = [_named(f["type"]) for f in t.get("fields") or []]
        children += [p["name"] for p in t.get("possibleTypes") or []]
        return any(self.reaches(c, seen | {type_name}) for c in children)

    def root_fields_reaching(self, root: str | None) -> set[str]:
        if root is None:
            return set()
        return {f["name"] for f in self.types[root]["fields"] if self.reaches(_named(f["type"]))}

    def selection(self, type_name: str, path: tuple[str, ...] = (), depth: int = 0) -> str:
        """Every field of a type without required arguments; object fields recursively (no cycles)."""
        t = self.types[type_name]
        if t["kind"] in ("INTERFACE", "UNION"):
            parts = ["__typename"] + [f"... on {p['name']} {{ {self.selection(p['name'], path, depth)} }}"
                                      for p in t["possibleTypes"] if self.reaches(p["name"])]
            return " ".join(parts)
        parts = []
        for field in t["fields"]:
            if self._required_args(field):
                continue
            child = _named(field["type"])
            kind = self.types[child]["kind"]
            if kind in ("SCALAR", "ENUM"):
                parts.append(field["name"])
            elif child not in path and depth < 4:
                parts.append(f"{field['name']} {{ {self.selection(child, path + (type_name,), depth + 1)} }}")
        return " ".join(parts) or "__typename"

    def field_type(self, root: str, field: str) -> str:
        return _named(next(f for f in self.types[root]["fields"] if f["name"] == field)["type"])


def strings(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in strings(v)]
    return []


def leaks(body) -> set[str]:
    return {p for p in PLAIN for s in strings(body) if p in s}


async def test_numbers_are_masked_for_everyone_but_finance(client, app_state):
    schema = (await client.execute(INTROSPECT))["__schema"]
    walker = Walker(schema)
    assert walker.carriers == {"PayoutAccount", "Withdrawal"}

    finance = await finance_token(client, app_state, dailyCountLimit=None)
    owner = await funded(client, app_state, 100_000, wechat_code=WECHAT_CODE)
    alipay = (await add(client, owner["token"], **ALIPAY))["payoutAccount"]
    wechat = (await add(client, owner["token"], method="WECHAT"))["payoutAccount"]
    withdrawals = [(await request(client, owner["token"], "10.00", payoutAccountId=a))["withdrawal"]["id"]
                   for a in (owner["account_id"], alipay["id"], wechat["id"])]
    other = (await funded(client, app_state, 1000, account={**CARD, "holderName": "李四"}, real_name="李四"))["token"]
    reports = (await staff(client, app_state, {"VIEW_REPORTS", "MANAGE_DISTRIBUTORS", "MANAGE_ORDERS"}))["accessToken"]
    now = datetime.now(UTC)
    period = {"from": (now - timedelta(hours=1)).isoformat(), "to": (now + timedelta(hours=1)).isoformat()}

    q, m = schema["queryType"]["name"], schema["mutationType"]["name"]
    sel = walker.selection
    queries = {
        "myPayoutAccounts": (f"{{ myPayoutAccounts {{ {sel('PayoutAccount')} }} }}", None),
        "myWithdrawals": (f"{{ myWithdrawals {{ {sel(walker.field_type(q, 'myWithdrawals'))} }} }}", None),
        "withdrawals": (f"{{ withdrawals {{ {sel(walker.field_type(q, 'withdrawals'))} }} }}", None),
        "withdrawalReconciliation": (
            f"query($from: DateTime!, $to: DateTime!) {{ withdrawalReconciliation(from: $from, to: $to) "
            f"{{ {sel(walker.field_type(q, 'withdrawalReconciliation'))} }} }}", period),
        "node": (f"query($ids: [ID!]!) {{ a: node(id: $ids) {{ {sel('Node')} }} }}", None),
    }
    node_ids = [owner["account_id"], alipay["id"], wechat["id"], *withdrawals]
    exercised_queries = set(queries)
    exercised_mutations = {"payoutAccountAdd", "payoutAccountSetDefault", "payoutAccountRemove",
                           "withdrawalRequest", "withdrawalApprove", "withdrawalReject"}
    assert walker.root_fields_reaching(q) == exercised_queries
    assert walker.root_fields_reaching(m) == exercised_mutations
    subscription = (schema.get("subscriptionType") or {}).get("name")
    # Every live event's `subject` can be a Withdrawal: test_live_events_mask_numbers_too.
    assert walker.root_fields_reaching(subscription) == set(LIVE_FIELDS)

    async def run_queries(token) -> list[dict]:
        bodies = []
        for name, (document, variables) in queries.items():
            if name == "node":
                for node_id in node_ids:
                    doc = f"query($id: ID!) {{ node(id: $id) {{ {sel('Node')} }} }}"
                    bodies.append((await client.post(doc, {"id": node_id}, token=token)).json())
                continue
            bodies.append((await client.post(document, variables, token=token)).json())
        return bodies

    # Owner, another distributor and a staff member without MANAGE_FINANCE: never a plain number.
    for token in (owner["token"], other, reports):
        for body in await run_queries(token):
            assert leaks(body) == set(), body
    owner_bodies = await run_queries(owner["token"])
    owner_text = " ".join(s for b in owner_bodies for s in strings(b))
    assert "6222 **** **** 1234" in owner_text and "138****1234" in owner_text and "sand****" in owner_text
    reports_text = " ".join(s for b in await run_queries(reports) for s in strings(b))
    assert "6222 **** **** 1234" in reports_text

    # Nothing above was hidden by an error: the owner reads their own, report readers the lists.
    assert [("errors" in b) for b in owner_bodies] == [False, False, True, True] + [False] * len(node_ids)
    assert [("errors" in b) for b in await run_queries(reports)] == [False, False, False, True] + [False] * len(node_ids)

    # Finance sees every number in full.
    finance_bodies = await run_queries(finance)
    assert not any("errors" in b for b in finance_bodies), finance_bodies
    assert set().union(*(leaks(b) for b in finance_bodies)) == set(PLAIN)

    # Mutation payloads, with every field.
    def payload(name: str) -> str:
        return sel(walker.field_type(m, name))

    body = (await client.post(
        f"mutation($i: PayoutAccountAddInput!) {{ payoutAccountAdd(input: $i) {{ {payload('payoutAccountAdd')} }} }}",
        {"i": {**CARD, "accountNumber": "6222021234569999"}}, token=owner["token"])).json()
    assert body["data"]["payoutAccountAdd"]["payoutAccount"]["accountNumber"] == "6222 **** **** 9999"
    added = body["data"]["payoutAccountAdd"]["payoutAccount"]["id"]
    for name in ("payoutAccountSetDefault", "payoutAccountRemove"):
        body = (await client.post(f"mutation($id: ID!) {{ {name}(id: $id) {{ {payload(name)} }} }}",
                                  {"id": owner["account_id"] if name.endswith("Default") else added},
                                  token=owner["token"])).json()
        assert body["data"][name]["userErrors"] == [] and leaks(body) == set(), body
    body = (await client.post(
        f"mutation($i: WithdrawalRequestInput!) {{ withdrawalRequest(input: $i) {{ {payload('withdrawalRequest')} }} }}",
        {"i": {"amount": "1.00"}}, token=owner["token"])).json()
    assert body["data"]["withdrawalRequest"]["userErrors"] == [] and leaks(body) == set(), body
    for name, extra in (("withdrawalReject", {"reason": "测试"}), ("withdrawalApprove", {})):
        target = withdrawals.pop()
        doc = (f"mutation($i: {name[0].upper() + name[1:]}Input!) {{ {name}(input: $i) {{ {payload(name)} }} }}")
        refused = (await client.post(doc, {"i": {"id": target, **extra}}, token=reports)).json()
        assert refused["data"][name]["userErrors"][0]["code"] == "FORBIDDEN" and leaks(refused) == set()
        done = (await client.post(doc, {"i": {"id": target, **extra}}, token=finance)).json()
        assert done["data"][name]["userErrors"] == [], done
        assert leaks(done), "finance sees the number it pays to"


LIVE_FIELDS = ("orderUpdated", "commissionUpdated", "walletUpdated", "withdrawalUpdated", "applicationUpdated",
               "staffFeed")


async def test_live_events_mask_numbers_too(client, app_state, realtime):
    """Every subscription, with every field of its event (the subject included), as the owner,
    a staff member without MANAGE_FINANCE and finance: only finance ever sees a full number."""
    schema = (await client.execute(INTROSPECT))["__schema"]
    walker = Walker(schema)
    subscription = schema["subscriptionType"]["name"]
    finance = await finance_token(client, app_state, dailyCountLimit=None)
    owner = await funded(client, app_state, 100_000)
    reports = (await staff(client, app_state, {"VIEW_REPORTS", "MANAGE_ORDERS"}))["accessToken"]

    def document(field: str) -> str:
        selection = walker.selection(walker.field_type(subscription, field))
        args = '(types: ["withdrawal.updated"])' if field == "staffFeed" else ""
        return f"subscription {{ {field}{args} {{ {selection} }} }}"

    async with live(client, owner["token"]) as own, live(client, finance) as money:
        for number, field in enumerate(LIVE_FIELDS[:-1], start=1):
            await own.subscribe(document(field), op_id=str(number))
        await money.subscribe(document("staffFeed"))
        await wait_for_subscribers(realtime, len(LIVE_FIELDS))
        await request(client, owner["token"], "10.00")
        seen_by_owner = [await own.receive() for _ in range(2)]  # the withdrawal and the wallet
        seen_by_finance = await money.receive()
    async with live(client, reports) as other:
        await other.subscribe(document("staffFeed"))
        refused = await other.receive()
    assert {m["id"] for m in seen_by_owner} == {"3", "4"}  # walletUpdated, withdrawalUpdated
    for message in seen_by_owner:
        assert "errors" not in message["payload"] and leaks(message["payload"]) == set(), message
    withdrawal_event = next(m for m in seen_by_owner if m["id"] == "4")["payload"]["data"]["withdrawalUpdated"]
    assert withdrawal_event["subject"]["accountNumber"] == "6222 **** **** 1234"
    assert leaks(seen_by_finance["payload"]) == {PLAIN_CARD}
    # Staff without MANAGE_FINANCE may not watch withdrawals at all.
    assert refused["payload"]["data"] is None
    assert refused["payload"]["errors"][0]["extensions"]["code"] == "FORBIDDEN"
