"""The withdrawal fee: basis points rounded down to the fen, at least the minimum, never more than
the amount; fee + net is always the amount. Properties, then the same rules through the API."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from services.withdrawal import compute_fee
from tests.test_withdrawal_requests import finance_token, funded, request

amounts = st.integers(min_value=1, max_value=10**12)
rates = st.integers(min_value=0, max_value=10_000)
minimums = st.integers(min_value=0, max_value=100_000)


@given(amounts, rates, minimums)
def test_fee_and_net_add_up_to_the_amount(amount, bps, minimum):
    fee, net = compute_fee(amount, bps, minimum)
    assert fee + net == amount
    assert 0 <= fee <= amount and net >= 0


@given(amounts, rates, minimums)
def test_fee_is_at_least_the_minimum_unless_the_amount_is_smaller(amount, bps, minimum):
    fee, _ = compute_fee(amount, bps, minimum)
    if amount >= minimum:
        assert fee >= minimum
    else:
        assert fee == amount


@given(amounts, rates, minimums)
def test_rate_share_rounds_down(amount, bps, minimum):
    fee, _ = compute_fee(amount, bps, minimum)
    share = amount * bps // 10_000
    assert share * 10_000 <= amount * bps < (share + 1) * 10_000
    assert fee == min(amount, max(share, minimum))


@given(st.integers(min_value=1, max_value=10**12), rates)
def test_no_minimum_means_a_pure_rounded_down_rate(amount, bps):
    assert compute_fee(amount, bps, 0) == (amount * bps // 10_000, amount - amount * bps // 10_000)


async def test_fee_rules_through_the_api(client, app_state):
    await finance_token(client, app_state, feeRate=35, feeMinimum="0.10", dailyCountLimit=None,
                        minAmount="0.05")
    me = await funded(client, app_state, 100_000)
    expected = {"0.05": ("0.05", "0.00"), "1.00": ("0.10", "0.90"), "28.57": ("0.10", "28.47"),
                "28.58": ("0.10", "28.48"), "100.00": ("0.35", "99.65"), "123.45": ("0.43", "123.02")}
    for amount, (fee, net) in expected.items():
        payload = await request(client, me["token"], amount)
        if net == "0.00":
            # The whole amount would go to the fee: refused.
            assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [("AMOUNT_BELOW_MINIMUM", "amount")]
            continue
        w = payload["withdrawal"]
        assert (w["amount"], w["fee"], w["net"]) == (amount, fee, net)
