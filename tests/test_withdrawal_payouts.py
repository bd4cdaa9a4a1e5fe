"""Late payouts settled by the provider's signed callback, replays, reconciliation and CSV export."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from core.ids import decode_global_id
from models.wallet import LedgerEntry
from models.withdrawal import PayoutResult, PayoutResultStatus
from services.payout import SIGNATURE_HEADER, sign_callback
from tests.factories import staff
from tests.withdrawal_support import (
    ALIPAY,
    APPROVE,
    CARD,
    LATE_CARD,
    PAYOUT_CALLBACK_PATH,
    REJECT,
    add,
    balanced,
    finance_token,
    funded,
    ledger_kinds,
    overview,
    post_payout_callback,
    request,
)

RECONCILE = """
query($from: DateTime!, $to: DateTime!) {
  withdrawalReconciliation(from: $from, to: $to) {
    requestedCount requested paidCount paid paidNet fees failedCount failed rejectedCount rejected
    inFlightCount inFlight mismatches { kind detail withdrawal { id status } }
  }
}"""
CSV = "query($from: DateTime!, $to: DateTime!, $status: WithdrawalStatus) { withdrawalsCsv(from: $from, to: $to, status: $status) }"


@pytest.fixture
def callbacks(app):
    """The app, whose routes include the sandbox payout callback."""
    return app


async def late_paying(client, app_state, finance, amount="30.00", **kwargs) -> tuple[dict, dict, str]:
    me = await funded(client, app_state, 10_000, account=LATE_CARD, **kwargs)
    w = (await request(client, me["token"], amount))["withdrawal"]
    paying = (await client.execute(APPROVE, {"input": {"id": w["id"]}}, token=finance))["withdrawalApprove"]
    assert paying["withdrawal"]["status"] == "PAYING"
    return me, paying["withdrawal"], paying["withdrawal"]["providerReference"]


async def test_late_payout_settles_by_signed_callback_and_replays_change_nothing(client, callbacks, app_state,
                                                                                 settings, db):
    finance = await finance_token(client, app_state)
    me, w, reference = await late_paying(client, app_state, finance)
    assert (await overview(client, me["token"]))["withdrawing"] == "30.00"

    forged = await post_payout_callback(client, settings, reference, PayoutResultStatus.PAID, signature="0" * 64)
    assert forged.status_code == 401 and forged.json()["error"] == "INVALID_SIGNATURE"
    unknown = await post_payout_callback(client, settings, "WD-unknown", PayoutResultStatus.PAID)
    assert unknown.status_code == 404 and unknown.json()["error"] == "NOT_FOUND"
    huge = await client.http.post(PAYOUT_CALLBACK_PATH, content=b"x" * (65 * 1024))
    assert huge.status_code == 413
    bad = await client.http.post(PAYOUT_CALLBACK_PATH, content=b"{}", headers={
        SIGNATURE_HEADER: sign_callback(settings.secret_key, b"{}")})
    assert bad.status_code == 400
    assert (await overview(client, me["token"]))["withdrawing"] == "30.00"

    first = await post_payout_callback(client, settings, reference, PayoutResultStatus.PAID)
    assert first.status_code == 200 and first.json() == {"ok": True, "changed": True, "status": "PAID"}
    for _ in range(3):
        replay = await post_payout_callback(client, settings, reference, PayoutResultStatus.PAID)
        assert replay.json() == {"ok": True, "changed": False, "status": "PAID"}
    # A contradicting late answer is recorded for reconciliation but moves no money.
    contradiction = await post_payout_callback(client, settings, reference, PayoutResultStatus.FAILED)
    assert contradiction.json() == {"ok": True, "changed": True, "status": "PAID"}
    assert (await overview(client, me["token"]))["withdrawn"] == "30.00"
    kinds = [k.value for k in await ledger_kinds(db, me["pk"])]
    assert kinds == ["WITHDRAWAL_REQUESTED", "WITHDRAWAL_PAID"]
    await balanced(db, me["pk"])
    pk = decode_global_id(w["id"])[1]
    results = (await db.execute(select(PayoutResult.status, PayoutResult.ignored)
                                .where(PayoutResult.withdrawal_id == pk).order_by(PayoutResult.id))).all()
    assert results == [(PayoutResultStatus.PENDING, False), (PayoutResultStatus.PAID, False),
                       (PayoutResultStatus.FAILED, True)]

    now = datetime.now(UTC)
    period = {"from": (now - timedelta(hours=1)).isoformat(), "to": (now + timedelta(hours=1)).isoformat()}
    report = (await client.execute(RECONCILE, period, token=finance))["withdrawalReconciliation"]
    assert [(m["kind"], m["withdrawal"]["id"]) for m in report["mismatches"]] == [("PROVIDER_FAILED", w["id"])]


async def test_late_failure_by_callback_returns_the_money(client, callbacks, app_state, settings, db):
    finance = await finance_token(client, app_state)
    me, w, reference = await late_paying(client, app_state, finance)
    response = await post_payout_callback(client, settings, reference, PayoutResultStatus.FAILED)
    assert response.json() == {"ok": True, "changed": True, "status": "FAILED"}
    assert (await post_payout_callback(client, settings, reference, PayoutResultStatus.FAILED)).json()["changed"] is False
    assert (await overview(client, me["token"]))["available"] == "100.00"
    kinds = [k.value for k in await ledger_kinds(db, me["pk"])]
    assert kinds == ["WITHDRAWAL_REQUESTED", "WITHDRAWAL_RETURNED"]
    await balanced(db, me["pk"])


async def test_reconciliation_and_csv(client, callbacks, app_state, settings, db):
    finance = await finance_token(client, app_state, feeRate=100, feeMinimum="0.50", dailyCountLimit=None)
    me = await funded(client, app_state, 100_000)
    failing = (await add(client, me["token"], **{**CARD, "accountNumber": "6222021234564002"}))["payoutAccount"]
    alipay = (await add(client, me["token"], **{**ALIPAY, "accountNumber": "=cmd@example.com"}))["payoutAccount"]
    paid = (await request(client, me["token"], "200.00"))["withdrawal"]
    paid_alipay = (await request(client, me["token"], "10.00", payoutAccountId=alipay["id"]))["withdrawal"]
    failed = (await request(client, me["token"], "30.00", payoutAccountId=failing["id"]))["withdrawal"]
    rejected = (await request(client, me["token"], "40.00"))["withdrawal"]
    await request(client, me["token"], "5.00")  # still REQUESTED: counted as requested only
    for w in (paid, paid_alipay, failed):
        await client.execute(APPROVE, {"input": {"id": w["id"]}}, token=finance)
    await client.execute(REJECT, {"input": {"id": rejected["id"], "reason": "信息不符"}}, token=finance)

    now = datetime.now(UTC)
    period = {"from": (now - timedelta(hours=1)).isoformat(), "to": (now + timedelta(hours=1)).isoformat()}
    report = (await client.execute(RECONCILE, period, token=finance))["withdrawalReconciliation"]
    assert report == {
        "requestedCount": 5, "requested": "285.00", "paidCount": 2, "paid": "210.00", "paidNet": "207.50",
        "fees": "2.50", "failedCount": 1, "failed": "30.00", "rejectedCount": 1, "rejected": "40.00",
        "inFlightCount": 1, "inFlight": "5.00", "mismatches": []}
    earlier = {"from": (now - timedelta(days=2)).isoformat(), "to": (now - timedelta(days=1)).isoformat()}
    empty = (await client.execute(RECONCILE, earlier, token=finance))["withdrawalReconciliation"]
    assert (empty["requestedCount"], empty["paid"]) == (0, "0.00")

    # A ledger that disagrees with a withdrawal's state shows up as a mismatch; only a damaged
    # database gets there, so the entry is deleted behind the API.
    pk = decode_global_id(paid["id"])[1]
    entry = await db.scalar(select(LedgerEntry).where(LedgerEntry.idempotency_key == f"withdrawal:{pk}:paid"))
    await db.delete(entry)
    await db.commit()
    report = (await client.execute(RECONCILE, period, token=finance))["withdrawalReconciliation"]
    assert [(m["kind"], m["withdrawal"]["id"]) for m in report["mismatches"]] == [("LEDGER", paid["id"])]

    text = (await client.execute(CSV, period, token=finance))["withdrawalsCsv"]
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["status"] for r in rows] == ["PAID", "PAID", "FAILED", "REJECTED", "REQUESTED"]
    assert rows[0]["amount"] == "200.00" and rows[0]["fee"] == "2.00" and rows[0]["net"] == "198.00"
    assert rows[0]["account"] == "6222 **** **** 1234" and rows[0]["holder_name"] == "张三"
    assert rows[1]["account"] == "'=***@example.com"  # no spreadsheet formulas
    assert rows[3]["reason"] == "信息不符"
    assert "6222021234561234" not in text
    only_paid = (await client.execute(CSV, {**period, "status": "PAID"}, token=finance))["withdrawalsCsv"]
    assert len(only_paid.strip().splitlines()) == 3

    # Finance only; a period must make sense.
    reports = (await staff(client, app_state, {"VIEW_REPORTS"}))["accessToken"]
    for query in (RECONCILE, CSV):
        for token in (me["token"], reports):
            errors = await client.errors(query, period, token=token)
            assert errors[0]["extensions"]["code"] == "FORBIDDEN"
        errors = await client.errors(query, {"from": period["to"], "to": period["from"]}, token=finance)
        assert errors[0]["extensions"]["code"] == "INVALID"
    assert await db.scalar(select(func.count(PayoutResult.id))) == 3

