"""The withdrawal fee through the API: basis points of the amount rounded down to the fen, at
least the minimum, never the whole amount; the fee stays with the merchant, the net arrives."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.withdrawal_support import APPROVE, codes, finance_token, funded, overview, request

RECONCILE = """
query($from: DateTime!, $to: DateTime!) {
  withdrawalReconciliation(from: $from, to: $to) { paidCount paid paidNet fees }
}"""
FUNDS = 2_000_000  # 20000.00 available before the requests

# Each case: the rules, {amount: (fee, net)}, the available balance after requesting them all,
# and the reconciliation once all are paid (paid, paidNet, fees). Every value is written out.
CASES = {
    "0.6% with a 1.00 minimum": (
        {"feeRate": 60, "feeMinimum": "1.00"},
        {"500.00": ("3.00", "497.00"),      # 0.6% of 500.00
         "333.33": ("1.99", "331.34"),      # 1.99998 rounds down
         "166.67": ("1.00", "165.67"),      # 1.00002 rounds down to the minimum exactly
         "166.66": ("1.00", "165.66"),      # 0.99996: below the minimum, the minimum applies
         "1.50": ("1.00", "0.50")},         # the minimum takes most of a small amount
        "18831.84", ("1168.16", "1160.17", "7.99")),
    "0.35% with a 0.10 minimum": (
        {"feeRate": 35, "feeMinimum": "0.10", "minAmount": "0.05"},
        {"1.00": ("0.10", "0.90"),
         "28.57": ("0.10", "28.47"),        # 0.099995: the minimum
         "28.58": ("0.10", "28.48"),        # 0.10003 rounds down
         "100.00": ("0.35", "99.65"),
         "123.45": ("0.43", "123.02")},     # 0.432075 rounds down
        "19718.40", ("281.60", "280.52", "1.08")),
    "0.01% and no minimum": (
        {"feeRate": 1, "feeMinimum": "0.00"},
        {"99.99": ("0.00", "99.99"),        # 0.009999 rounds down to nothing
         "100.00": ("0.01", "99.99"),
         "12345.67": ("1.23", "12344.44")},
        "7454.34", ("12545.66", "12544.42", "1.24")),
    "no fee (the default rules)": (
        {},
        {"1.00": ("0.00", "1.00"),
         "250.00": ("0.00", "250.00")},
        "19749.00", ("251.00", "251.00", "0.00")),
}


@pytest.mark.parametrize("case", list(CASES))
async def test_fee_and_net_to_the_fen(client, app_state, case):
    rules, expected, available, paid_totals = CASES[case]
    finance = await finance_token(client, app_state, dailyCountLimit=None, **rules)
    me = await funded(client, app_state, FUNDS)
    requested = []
    for amount, (fee, net) in expected.items():
        payload = await request(client, me["token"], amount)
        assert payload["userErrors"] == [], (amount, payload)
        w = payload["withdrawal"]
        assert (w["amount"], w["fee"], w["net"]) == (amount, fee, net), amount
        requested.append(w["id"])
    # The fee is part of the amount: the whole amount leaves the available balance.
    assert (await overview(client, me["token"]))["available"] == available
    # Paid out: the distributor receives the net; the reconciliation shows the fees.
    for withdrawal_id in requested:
        paid = (await client.execute(APPROVE, {"input": {"id": withdrawal_id}}, token=finance))["withdrawalApprove"]
        assert paid["withdrawal"]["status"] == "PAID", paid
    now = datetime.now(UTC)
    period = {"from": (now - timedelta(hours=1)).isoformat(), "to": (now + timedelta(hours=1)).isoformat()}
    report = (await client.execute(RECONCILE, period, token=finance))["withdrawalReconciliation"]
    assert (report["paid"], report["paidNet"], report["fees"]) == paid_totals
    assert report["paidCount"] == len(expected)


async def test_an_amount_the_fee_would_swallow_is_refused(client, app_state):
    await finance_token(client, app_state, feeRate=35, feeMinimum="0.10", minAmount="0.05")
    me = await funded(client, app_state, 1000)
    # Both are at least the minimum amount, but the 0.10 minimum fee would take all of it.
    for amount in ("0.05", "0.10"):
        payload = await request(client, me["token"], amount)
        assert payload["withdrawal"] is None and codes(payload) == [("AMOUNT_BELOW_MINIMUM", "amount")], amount
    smallest = (await request(client, me["token"], "0.11"))["withdrawal"]
    assert (smallest["fee"], smallest["net"]) == ("0.10", "0.01")
    assert (await overview(client, me["token"]))["available"] == "9.89"
