"""Withdrawal requests, review and payout through the GraphQL API: every rule and refusal."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from core.ids import decode_global_id
from models.audit import AuditEntry
from models.network import Application, Distributor, DistributorStatus
from models.outbox import OutboxEvent
from models.wallet import LedgerKind
from models.withdrawal import PayoutResultStatus
from services.payout import SandboxPayoutProvider
from tests.factories import back_office, register, staff, verified_distributor
from tests.order_support import REQUEST_REFUND, REVIEW_REFUND, earn
from tests.withdrawal_support import (
    ALIPAY,
    APPROVE,
    CARD,
    REJECT,
    REQUEST,
    SETTINGS_UPDATE,
    add,
    balanced,
    codes,
    finance_token,
    funded,
    ledger_kinds,
    overview,
    request,
)

MINE = "query($status: WithdrawalStatus) { myWithdrawals(status: $status) { nodes { id status amount } } }"
LIST = """
query($filter: WithdrawalFilter, $first: Int, $after: String) {
  withdrawals(filter: $filter, first: $first, after: $after) {
    nodes { id status amount user { id } } pageInfo { hasNextPage endCursor }
  }
}"""


async def test_request_approve_pay_moves_money_through_the_ledger(client, app_state, db):
    finance = await finance_token(client, app_state, feeRate=60, feeMinimum="1.00")
    me = await funded(client, app_state, 100_000)
    before = datetime.now(UTC)
    payload = await request(client, me["token"], "500.00")
    assert payload["userErrors"] == []
    w = payload["withdrawal"]
    # Fee 0.6% of 500.00 = 3.00 (at least 1.00), net = amount - fee.
    assert (w["status"], w["amount"], w["fee"], w["net"]) == ("REQUESTED", "500.00", "3.00", "497.00")
    assert w["accountNumber"] == "6222 **** **** 1234" and w["holderName"] == "张三"
    arrival = datetime.fromisoformat(w["expectedArrivalAt"].replace("Z", "+00:00"))
    assert before + timedelta(hours=24) <= arrival <= datetime.now(UTC) + timedelta(hours=24)
    assert await overview(client, me["token"]) == {
        "available": "500.00", "withdrawing": "500.00", "withdrawn": "0.00", "debt": "0.00", "todayCount": 1,
        "todayAmount": "500.00", "settings": {"minAmount": "1.00", "feeRate": 60, "feeMinimum": "1.00",
                                              "dailyCountLimit": 3}}
    # Small amounts pay the minimum fee; the fee rounds down to the fen.
    small = (await request(client, me["token"], "1.50"))["withdrawal"]
    assert (small["fee"], small["net"]) == ("1.00", "0.50")
    odd = (await request(client, me["token"], "333.33"))["withdrawal"]
    assert (odd["fee"], odd["net"]) == ("1.99", "331.34")

    paid = (await client.execute(APPROVE, {"input": {"id": w["id"], "note": "ok"}}, token=finance))["withdrawalApprove"]
    assert paid["userErrors"] == []
    assert paid["withdrawal"]["status"] == "PAID" and paid["withdrawal"]["paidAt"] is not None
    assert paid["withdrawal"]["providerReference"].startswith("WD")
    balances = await balanced(db, me["pk"])
    assert (balances["available"], balances["withdrawing"], balances["withdrawn"]) == (
        100_000 - 50_000 - 150 - 33_333, 150 + 33_333, 50_000)
    assert await ledger_kinds(db, me["pk"]) == [LedgerKind.WITHDRAWAL_REQUESTED] * 3 + [LedgerKind.WITHDRAWAL_PAID]
    # Every transition is audited and announced.
    pk = decode_global_id(w["id"])[1]
    actions = (await db.scalars(select(AuditEntry.action).where(AuditEntry.subject_type == "Withdrawal",
                                                                AuditEntry.subject_id == pk)
                                .order_by(AuditEntry.id))).all()
    assert actions == ["withdrawal.request", "withdrawal.approve", "withdrawal.paying", "withdrawal.paid"]
    events = (await db.execute(select(OutboxEvent.event_type, OutboxEvent.payload).where(
        OutboxEvent.subject_type == "Withdrawal", OutboxEvent.subject_id == pk).order_by(OutboxEvent.id))).all()
    assert [(t, p["status"]) for t, p in events] == [
        ("withdrawal.updated", "REQUESTED"), ("withdrawal.updated", "APPROVED"),
        ("withdrawal.updated", "PAYING"), ("withdrawal.updated", "PAID")]
    wallet_events = (await db.scalars(select(OutboxEvent.payload).where(OutboxEvent.event_type == "wallet.updated")
                                      .order_by(OutboxEvent.id.desc()))).first()
    assert wallet_events["withdrawnFen"] == 50_000
    # A second approval is refused.
    again = (await client.execute(APPROVE, {"input": {"id": w["id"]}}, token=finance))["withdrawalApprove"]
    assert codes(again) == [("INVALID_TRANSITION", "id")]


async def test_reject_with_reason_returns_the_money(client, app_state, db):
    finance = await finance_token(client, app_state)
    me = await funded(client, app_state, 10_000)
    w = (await request(client, me["token"], "80.00"))["withdrawal"]
    no_reason = (await client.execute(REJECT, {"input": {"id": w["id"], "reason": "  "}}, token=finance))
    assert codes(no_reason["withdrawalReject"]) == [("REQUIRED", "reason")]
    data = (await client.execute(REJECT, {"input": {"id": w["id"], "reason": "账户信息有误"}}, token=finance))
    rejected = data["withdrawalReject"]["withdrawal"]
    assert (rejected["status"], rejected["rejectReason"]) == ("REJECTED", "账户信息有误")
    assert (await overview(client, me["token"]))["available"] == "100.00"
    assert await ledger_kinds(db, me["pk"]) == [LedgerKind.WITHDRAWAL_REQUESTED, LedgerKind.WITHDRAWAL_RETURNED]
    await balanced(db, me["pk"])
    entry = (await db.scalars(select(AuditEntry).where(AuditEntry.action == "withdrawal.reject"))).one()
    assert entry.reason == "账户信息有误"
    for mutation, name, extra in ((APPROVE, "withdrawalApprove", {}), (REJECT, "withdrawalReject", {"reason": "x"})):
        data = await client.execute(mutation, {"input": {"id": w["id"], **extra}}, token=finance)
        assert codes(data[name]) == [("INVALID_TRANSITION", "id")]
    # Rejected requests do not count against the daily limits.
    assert (await overview(client, me["token"]))["todayCount"] == 0


async def test_failed_payout_returns_the_money(client, app_state, db):
    finance = await finance_token(client, app_state)
    me = await funded(client, app_state, 10_000, account={**CARD, "accountNumber": "6222021234564002"})
    w = (await request(client, me["token"], "50.00"))["withdrawal"]
    failed = (await client.execute(APPROVE, {"input": {"id": w["id"]}}, token=finance))["withdrawalApprove"]
    assert failed["withdrawal"]["status"] == "FAILED"
    assert "refused" in failed["withdrawal"]["failureReason"]
    assert (await overview(client, me["token"]))["available"] == "100.00"
    assert await ledger_kinds(db, me["pk"]) == [LedgerKind.WITHDRAWAL_REQUESTED, LedgerKind.WITHDRAWAL_RETURNED]
    await balanced(db, me["pk"])


async def test_only_finance_reviews(client, app_state):
    me = await funded(client, app_state, 10_000)
    w = (await request(client, me["token"], "50.00"))["withdrawal"]
    others = [me["token"], (await staff(client, app_state, {"VIEW_REPORTS", "MANAGE_DISTRIBUTORS"}))["accessToken"]]
    for token in others:
        for mutation, name, extra in ((APPROVE, "withdrawalApprove", {}),
                                      (REJECT, "withdrawalReject", {"reason": "x"})):
            data = await client.execute(mutation, {"input": {"id": w["id"], **extra}}, token=token)
            assert codes(data[name]) == [("FORBIDDEN", None)]
    finance = await finance_token(client, app_state)
    wrong_id = (await client.execute(APPROVE, {"input": {"id": me["account_id"]}}, token=finance))
    assert codes(wrong_id["withdrawalApprove"]) == [("INVALID", "id")]


async def test_request_refusals(client, app_state, db):
    me = await funded(client, app_state, 10_000)
    cases = [
        ("0.99", {}, "AMOUNT_BELOW_MINIMUM", "amount"),
        ("0.00", {}, "INVALID", "amount"),
        ("100.01", {}, "INSUFFICIENT_FUNDS", "amount"),
        ("1.00", {"payoutAccountId": "UGF5b3V0QWNjb3VudDo5OTk5"}, "NOT_FOUND", "payoutAccountId"),
    ]
    for amount, extra, code, field in cases:
        payload = await request(client, me["token"], amount, **extra)
        assert payload["withdrawal"] is None
        assert codes(payload) == [(code, field)], (amount, extra)
    data = await client.execute(REQUEST, {"input": {"amount": "1.00"}})
    assert codes(data["withdrawalRequest"]) == [("NOT_AUTHENTICATED", None)]
    customer = await register(client)
    assert codes(await request(client, customer["accessToken"], "1.00")) == [("NOT_A_DISTRIBUTOR", None)]
    unverified = await verified_distributor(client, app_state, real_name=None)
    await earn(client, app_state, unverified["token"], 1000)
    assert codes(await request(client, unverified["token"], "1.00")) == [("REAL_NAME_REQUIRED", None)]
    # Another distributor's account cannot be used; no account at all is its own refusal.
    other = await funded(client, app_state, 1000, account={**CARD, "holderName": "李四"}, real_name="李四")
    assert codes(await request(client, me["token"], "1.00", payoutAccountId=other["account_id"])) == [
        ("NOT_FOUND", "payoutAccountId")]
    no_account = await verified_distributor(client, app_state)
    await earn(client, app_state, no_account["token"], 1000)
    assert codes(await request(client, no_account["token"], "1.00")) == [("NO_PAYOUT_ACCOUNT", "payoutAccountId")]
    # Nothing was written by any refusal.
    assert (await overview(client, me["token"]))["available"] == "100.00"
    assert await ledger_kinds(db, me["pk"]) == []

    # Inactive distributors (frozen by staff) cannot withdraw.
    admin = (await staff(client, app_state, {"MANAGE_DISTRIBUTORS"}))["accessToken"]
    data = await client.execute(
        "mutation($i: DistributorStatusInput!) { distributorStatusUpdate(input: $i) { userErrors { code } } }",
        {"i": {"distributorId": me["distributor_id"], "status": "FROZEN", "reason": "风控"}}, token=admin)
    assert data["distributorStatusUpdate"]["userErrors"] == []
    assert codes(await request(client, me["token"], "1.00")) == [("DISTRIBUTOR_INACTIVE", None)]


async def test_agreement_must_have_been_accepted(client, app_state, db):
    me = await funded(client, app_state, 1000)
    # Only an import can leave a distributor without an accepted agreement: the API always records one.
    distributor = await db.scalar(select(Distributor).where(Distributor.user_id == me["pk"]))
    application = await db.scalar(select(Application).where(Application.distributor_id == distributor.id))
    application.agreement_version = ""
    await db.commit()
    assert codes(await request(client, me["token"], "1.00")) == [("AGREEMENT_REQUIRED", None)]
    assert distributor.status == DistributorStatus.ACTIVE


async def test_clawback_debt_blocks_withdrawals(client, app_state):
    admin = await back_office(client, app_state)
    me = await verified_distributor(client, app_state)
    assert (await add(client, me["token"], **CARD))["userErrors"] == []
    sale = await earn(client, app_state, me["token"], 1500)
    withdrawal = (await request(client, me["token"], "15.00"))["withdrawal"]
    paid = (await client.execute(APPROVE, {"input": {"id": withdrawal["id"]}}, token=admin))["withdrawalApprove"]
    assert paid["withdrawal"]["status"] == "PAID"
    await earn(client, app_state, me["token"], 1000)
    # The first sale is refunded in full: its 15.00 is clawed back from the 10.00 available, 5.00 is debt.
    refund = (await client.execute(REQUEST_REFUND, {"input": {"orderItemId": sale["item_id"], "amount": "30.00",
                                                              "reason": "退货"}}, token=sale["buyer_token"]))
    approved = await client.execute(REVIEW_REFUND, {"input": {"refundId": refund["requestRefund"]["refund"]["id"],
                                                              "approve": True}}, token=admin)
    assert approved["reviewRefund"]["refund"]["status"] == "APPROVED", approved
    assert await overview(client, me["token"]) == {
        "available": "0.00", "withdrawing": "0.00", "withdrawn": "15.00", "debt": "5.00", "todayCount": 1,
        "todayAmount": "15.00", "settings": {"minAmount": "1.00", "feeRate": 0, "feeMinimum": "0.00",
                                             "dailyCountLimit": 3}}
    assert codes(await request(client, me["token"], "1.00")) == [("OUTSTANDING_DEBT", None)]
    await earn(client, app_state, me["token"], 300)  # repays part of the debt; still 2.00 owed
    assert codes(await request(client, me["token"], "1.00")) == [("OUTSTANDING_DEBT", None)]
    assert (await overview(client, me["token"]))["debt"] == "2.00"
    await earn(client, app_state, me["token"], 700)  # debt repaid, 5.00 available
    assert (await overview(client, me["token"]))["available"] == "5.00"
    assert (await request(client, me["token"], "5.00"))["userErrors"] == []


async def test_daily_count_and_amount_limits(client, app_state):
    await finance_token(client, app_state, dailyCountLimit=2, dailyAmountLimit="150.00")
    me = await funded(client, app_state, 100_000)
    assert (await request(client, me["token"], "100.00"))["userErrors"] == []
    over = await request(client, me["token"], "50.01")
    assert codes(over) == [("DAILY_AMOUNT_LIMIT", "amount")]
    assert over["userErrors"][0]["message"] == "You can withdraw at most 50.00 more today."
    assert (await request(client, me["token"], "50.00"))["userErrors"] == []
    assert codes(await request(client, me["token"], "1.00")) == [("DAILY_COUNT_LIMIT", None)]
    # Limits are per distributor.
    other = await funded(client, app_state, 10_000, account={**CARD, "holderName": "李四"}, real_name="李四")
    assert (await request(client, other["token"], "1.00"))["userErrors"] == []


async def test_idempotency_key_returns_the_first_request(client, app_state, db):
    me = await funded(client, app_state, 10_000)
    first = await request(client, me["token"], "10.00", idempotencyKey="tap-1")
    again = await request(client, me["token"], "99.00", idempotencyKey="tap-1")
    assert again["userErrors"] == [] and again["withdrawal"] == first["withdrawal"]
    assert (await overview(client, me["token"]))["withdrawing"] == "10.00"
    # Another user's same key is a different request.
    other = await funded(client, app_state, 10_000, account={**CARD, "holderName": "李四"}, real_name="李四")
    theirs = await request(client, other["token"], "10.00", idempotencyKey="tap-1")
    assert theirs["withdrawal"]["id"] != first["withdrawal"]["id"]
    assert len(await ledger_kinds(db, me["pk"])) == 1


async def test_expected_arrival_by_method_and_peak(client, app_state):
    me = await funded(client, app_state, 100_000, wechat_code="code-arrival")
    alipay = (await add(client, me["token"], **ALIPAY))["payoutAccount"]["id"]
    wechat = (await add(client, me["token"], method="WECHAT"))["payoutAccount"]["id"]
    await finance_token(client, app_state, dailyCountLimit=None)

    async def hours(account_id):
        start = datetime.now(UTC)
        w = (await request(client, me["token"], "1.00", payoutAccountId=account_id))["withdrawal"]
        arrival = datetime.fromisoformat(w["expectedArrivalAt"].replace("Z", "+00:00"))
        return round((arrival - start).total_seconds() / 3600)

    assert await hours(me["account_id"]) == 24
    assert await hours(alipay) == 168
    assert await hours(wechat) == 168
    now = datetime.now(UTC)
    await finance_token(client, app_state, peakStartsAt=(now - timedelta(hours=1)).isoformat(),
                        peakEndsAt=(now + timedelta(hours=1)).isoformat(), bankCardPeakHours=48)
    assert await hours(me["account_id"]) == 48
    assert await hours(alipay) == 168


async def test_auto_approval_under_threshold(client, app_state, db):
    await finance_token(client, app_state, autoApproveBelow="50.00")
    me = await funded(client, app_state, 10_000)
    small = (await request(client, me["token"], "49.99"))["withdrawal"]
    assert (small["status"], small["autoApproved"]) == ("PAID", True)
    large = (await request(client, me["token"], "50.00"))["withdrawal"]
    assert (large["status"], large["autoApproved"]) == ("REQUESTED", False)
    assert await db.scalar(select(AuditEntry.id).where(AuditEntry.action == "withdrawal.approve.auto"))
    await balanced(db, me["pk"])


async def test_settings_are_finance_only_validated_and_audited(client, app_state, db):
    me = await verified_distributor(client, app_state)
    data = await client.execute(SETTINGS_UPDATE, {"input": {"minAmount": "5.00"}}, token=me["token"])
    assert codes(data["withdrawalSettingsUpdate"]) == [("FORBIDDEN", None)]
    finance = await finance_token(client, app_state)
    cases = [
        ({"minAmount": "0.00"}, "INVALID", "minAmount"),
        ({"minAmount": None}, "REQUIRED", "minAmount"),
        ({"dailyCountLimit": 0}, "INVALID", "dailyCountLimit"),
        ({"bankCardHours": -1}, "INVALID", "bankCardHours"),
        ({"peakStartsAt": "2026-01-02T00:00:00Z"}, "INVALID", "peakStartsAt"),
        ({"peakStartsAt": "2026-01-02T00:00:00Z", "peakEndsAt": "2026-01-01T00:00:00Z"}, "INVALID", "peakStartsAt"),
    ]
    for fields, code, field in cases:
        data = await client.execute(SETTINGS_UPDATE, {"input": fields}, token=finance)
        assert codes(data["withdrawalSettingsUpdate"]) == [(code, field)], fields
    data = await client.execute(SETTINGS_UPDATE, {"input": {"minAmount": "10.00", "dailyAmountLimit": None}},
                                token=finance)
    settings = data["withdrawalSettingsUpdate"]["settings"]
    assert (settings["minAmount"], settings["dailyAmountLimit"], settings["dailyCountLimit"]) == ("10.00", None, 3)
    read = await client.execute("{ withdrawalSettings { minAmount wechatHours bankCardHours } }", token=me["token"])
    assert read["withdrawalSettings"] == {"minAmount": "10.00", "wechatHours": 168, "bankCardHours": 24}
    entries = (await db.scalars(select(AuditEntry).where(AuditEntry.action == "withdrawal.settings.update"))).all()
    assert len(entries) == 1
    assert entries[0].details["before"]["min_amount_fen"] == 100
    assert entries[0].details["after"]["min_amount_fen"] == 1000
    assert entries[0].details["after"]["daily_amount_limit_fen"] is None


async def test_lists_filters_and_visibility(client, app_state):
    finance = await finance_token(client, app_state, dailyCountLimit=None)
    me = await funded(client, app_state, 10_000)
    other = await funded(client, app_state, 10_000, account={**CARD, "holderName": "李四"}, real_name="李四")
    mine = [(await request(client, me["token"], f"{i}.00"))["withdrawal"]["id"] for i in (1, 2, 3)]
    theirs = (await request(client, other["token"], "4.00"))["withdrawal"]["id"]
    await client.execute(REJECT, {"input": {"id": mine[0], "reason": "重复"}}, token=finance)
    data = await client.execute(MINE, token=me["token"])
    assert [n["id"] for n in data["myWithdrawals"]["nodes"]] == mine[::-1]
    data = await client.execute(MINE, {"status": "REJECTED"}, token=me["token"])
    assert [n["id"] for n in data["myWithdrawals"]["nodes"]] == [mine[0]]

    page = (await client.execute(LIST, {"first": 2}, token=finance))["withdrawals"]
    assert [n["id"] for n in page["nodes"]] == [theirs, mine[2]] and page["pageInfo"]["hasNextPage"]
    rest = (await client.execute(LIST, {"first": 5, "after": page["pageInfo"]["endCursor"]}, token=finance))
    assert [n["id"] for n in rest["withdrawals"]["nodes"]] == [mine[1], mine[0]]
    by_user = (await client.execute(LIST, {"filter": {"userId": other["user_id"]}}, token=finance))["withdrawals"]
    assert [n["id"] for n in by_user["nodes"]] == [theirs]
    by_status = (await client.execute(LIST, {"filter": {"status": "REJECTED", "method": "BANK_CARD"}},
                                      token=finance))["withdrawals"]
    assert [n["id"] for n in by_status["nodes"]] == [mine[0]]
    future = (await client.execute(LIST, {"filter": {"createdFrom": "2099-01-01T00:00:00Z"}}, token=finance))
    assert future["withdrawals"]["nodes"] == []
    reports = (await staff(client, app_state, {"VIEW_REPORTS"}))["accessToken"]
    assert len((await client.execute(LIST, token=reports))["withdrawals"]["nodes"]) == 4
    for token in (me["token"], (await staff(client, app_state, {"MANAGE_DISTRIBUTORS"}))["accessToken"]):
        errors = await client.errors(LIST, token=token)
        assert errors[0]["extensions"]["code"] == "FORBIDDEN"
    # node(id:) shows a withdrawal to its owner, finance and report readers only.
    node = "query($id: ID!) { node(id: $id) { ... on Withdrawal { id amount } } }"
    assert (await client.execute(node, {"id": theirs}, token=me["token"]))["node"] is None
    assert (await client.execute(node, {"id": theirs}, token=other["token"]))["node"]["amount"] == "4.00"
    assert (await client.execute(node, {"id": theirs}, token=finance))["node"]["amount"] == "4.00"


async def test_sandbox_provider_scripted_per_reference(client, app_state, db):
    provider = SandboxPayoutProvider()
    app_state.payouts = provider
    finance = await finance_token(client, app_state)
    me = await funded(client, app_state, 10_000, wechat_code="code-scripted")
    wechat = (await add(client, me["token"], method="WECHAT"))["payoutAccount"]["id"]
    w = (await request(client, me["token"], "20.00", payoutAccountId=wechat))["withdrawal"]
    pk = decode_global_id(w["id"])[1]
    provider.script(f"WD{pk:010d}", PayoutResultStatus.FAILED)
    failed = (await client.execute(APPROVE, {"input": {"id": w["id"]}}, token=finance))["withdrawalApprove"]
    assert failed["withdrawal"]["status"] == "FAILED"
    order = provider.orders[f"WD{pk:010d}"]
    assert order.net_fen == 2000 and order.account_number.startswith("sandbox-") and order.holder_name == "张三"
    await balanced(db, me["pk"])


async def test_lists_load_related_objects_in_batches(client, app_state, statements):
    finance = await finance_token(client, app_state, dailyCountLimit=None)
    query = "{ withdrawals(first: 50) { nodes { id amount user { id phone } payoutAccount { id accountNumber } } } }"
    counts = []
    for people in (1, 4):
        for i in range(people):
            who = await funded(client, app_state, 10_000, account={**CARD, "holderName": f"王{i}{people}"},
                               real_name=f"王{i}{people}")
            for _ in range(2):
                assert (await request(client, who["token"], "1.00"))["userErrors"] == []
        statements.reset()
        data = await client.execute(query, token=finance)
        counts.append(statements.count)
        assert all(n["payoutAccount"]["accountNumber"].startswith("6222") for n in data["withdrawals"]["nodes"])
    assert len(data["withdrawals"]["nodes"]) == 10
    assert counts[0] == counts[1], counts
