"""How a withdrawal moves money: its ledger entries, one idempotency key per transition.

    withdrawal:<id>:requested  available -> withdrawing
    withdrawal:<id>:returned   withdrawing -> available   (REJECTED or FAILED)
    withdrawal:<id>:paid       withdrawing -> withdrawn   (PAID)

The amount includes the fee: the distributor receives net = amount - fee, and the whole amount
leaves the wallet when paid.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from core.money import format_money
from models.wallet import LedgerKind
from models.withdrawal import Withdrawal, WithdrawalStatus
from services import ledger

SUBJECT = "Withdrawal"
BUCKETS = ("available", "withdrawing", "withdrawn")


async def hold(session: AsyncSession, withdrawal: Withdrawal) -> None:
    await ledger.post(session, user_id=withdrawal.user_id, kind=LedgerKind.WITHDRAWAL_REQUESTED,
                      deltas=ledger.Deltas(available=-withdrawal.amount_fen, withdrawing=withdrawal.amount_fen),
                      idempotency_key=f"withdrawal:{withdrawal.id}:requested", subject_type=SUBJECT,
                      subject_id=withdrawal.id, memo=f"withdrawal request {format_money(withdrawal.amount_fen)}")


async def give_back(session: AsyncSession, withdrawal: Withdrawal, memo: str) -> None:
    await ledger.post(session, user_id=withdrawal.user_id, kind=LedgerKind.WITHDRAWAL_RETURNED,
                      deltas=ledger.Deltas(available=withdrawal.amount_fen, withdrawing=-withdrawal.amount_fen),
                      idempotency_key=f"withdrawal:{withdrawal.id}:returned", subject_type=SUBJECT,
                      subject_id=withdrawal.id, memo=memo)


async def pay_out(session: AsyncSession, withdrawal: Withdrawal) -> None:
    await ledger.post(session, user_id=withdrawal.user_id, kind=LedgerKind.WITHDRAWAL_PAID,
                      deltas=ledger.Deltas(withdrawing=-withdrawal.amount_fen, withdrawn=withdrawal.amount_fen),
                      idempotency_key=f"withdrawal:{withdrawal.id}:paid", subject_type=SUBJECT,
                      subject_id=withdrawal.id, memo="withdrawal paid")


def expected_movement(withdrawal: Withdrawal) -> dict[str, int]:
    """The net bucket movement a withdrawal in its state must have left in the ledger."""
    amount = withdrawal.amount_fen
    if withdrawal.status == WithdrawalStatus.PAID:
        return {"available": -amount, "withdrawing": 0, "withdrawn": amount}
    if withdrawal.status in (WithdrawalStatus.FAILED, WithdrawalStatus.REJECTED):
        return {"available": 0, "withdrawing": 0, "withdrawn": 0}
    return {"available": -amount, "withdrawing": amount, "withdrawn": 0}
