"""Withdrawals: payout accounts, requests and their review, payouts, reconciliation, export.

One module per concern:
    access          who may see which withdrawal data (full or masked numbers and names)
    masking         account numbers: validate, normalise, encrypt, mask, hash
    eligibility     who may withdraw (verified real name, accepted agreement)
    accounts        payout accounts
    rules           settings, fees, daily limits, arrival times
    requests        requesting a withdrawal; the withdraw page's overview
    payout          review, payout and the provider's answers (the state machine)
    movements       the ledger entries each transition posts
    events          the live event each change announces
    listing         filters, lists, by-id lookups
    reconciliation  a period's totals and mismatches
    export          a period's withdrawals as CSV

This module re-exports the names callers outside the domain use.
"""

from services.withdrawal.payout import apply_payout_result
from services.withdrawal.rules import compute_fee

__all__ = ["apply_payout_result", "compute_fee"]
