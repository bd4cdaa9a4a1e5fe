"""Reconciliation for finance: a period's amounts by state, and every withdrawal whose ledger
entries or provider answers disagree with its state."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from auth.permissions import Permission
from auth.viewer import Viewer
from core.errors import ErrorCode, ServiceError
from models.wallet import LedgerEntry
from models.withdrawal import PayoutResult, PayoutResultStatus, Withdrawal, WithdrawalStatus
from services.withdrawal.movements import BUCKETS, SUBJECT, expected_movement

IN_FLIGHT = (WithdrawalStatus.REQUESTED, WithdrawalStatus.APPROVED, WithdrawalStatus.PAYING)
MAX_PERIOD = timedelta(days=366)
_CHUNK = 500  # ids per IN (...) list


@dataclass
class Mismatch:
    withdrawal: Withdrawal
    kind: str
    detail: str


@dataclass
class Reconciliation:
    period_start: datetime
    period_end: datetime
    requested_count: int = 0
    requested_fen: int = 0
    paid_count: int = 0
    paid_fen: int = 0
    paid_net_fen: int = 0
    fees_fen: int = 0
    failed_count: int = 0
    failed_fen: int = 0
    rejected_count: int = 0
    rejected_fen: int = 0
    in_flight_count: int = 0
    in_flight_fen: int = 0
    mismatches: list[Mismatch] = field(default_factory=list)


def check_period(start: datetime, end: datetime) -> None:
    """A report period [start, end) starts before it ends and spans at most a year."""
    if start >= end:
        raise ServiceError(ErrorCode.INVALID, "The period must start before it ends.", "from")
    if end - start > MAX_PERIOD:
        raise ServiceError(ErrorCode.INVALID, "A period is at most a year.", "to")


def _count(report: Reconciliation, w: Withdrawal, start: datetime, end: datetime) -> None:
    if start <= w.created_at < end:
        report.requested_count += 1
        report.requested_fen += w.amount_fen
        if w.status in IN_FLIGHT:
            report.in_flight_count += 1
            report.in_flight_fen += w.amount_fen
    if w.status == WithdrawalStatus.PAID and start <= w.paid_at < end:
        report.paid_count += 1
        report.paid_fen += w.amount_fen
        report.paid_net_fen += w.net_fen
        report.fees_fen += w.fee_fen
    if w.status == WithdrawalStatus.FAILED and start <= w.failed_at < end:
        report.failed_count += 1
        report.failed_fen += w.amount_fen
    if w.status == WithdrawalStatus.REJECTED and start <= w.reviewed_at < end:
        report.rejected_count += 1
        report.rejected_fen += w.amount_fen


async def _ledger_and_answers(session: AsyncSession, ids: list[int]
                              ) -> tuple[dict[int, dict[str, int]], dict[int, set[PayoutResultStatus]]]:
    """Per withdrawal: the sum of its ledger movements, and the answers its provider gave."""
    sums: dict[int, dict[str, int]] = {}
    answers: dict[int, set[PayoutResultStatus]] = {}
    for chunk in (ids[i:i + _CHUNK] for i in range(0, len(ids), _CHUNK)):
        for subject_id, available, withdrawing, withdrawn in (await session.execute(
                select(LedgerEntry.subject_id, func.sum(LedgerEntry.available_delta),
                       func.sum(LedgerEntry.withdrawing_delta), func.sum(LedgerEntry.withdrawn_delta))
                .where(LedgerEntry.subject_type == SUBJECT, LedgerEntry.subject_id.in_(chunk))
                .group_by(LedgerEntry.subject_id))).all():
            sums[subject_id] = {"available": int(available), "withdrawing": int(withdrawing),
                                "withdrawn": int(withdrawn)}
        for withdrawal_id, status in (await session.execute(
                select(PayoutResult.withdrawal_id, PayoutResult.status)
                .where(PayoutResult.withdrawal_id.in_(chunk)))).all():
            answers.setdefault(withdrawal_id, set()).add(status)
    return sums, answers


def _mismatches(w: Withdrawal, moved: dict[str, int], answers: set[PayoutResultStatus]) -> list[Mismatch]:
    found = []
    expected = expected_movement(w)
    if moved != expected:
        found.append(Mismatch(w, "LEDGER", f"Status {w.status.value} expects ledger movements "
                                           f"{expected}, the ledger has {moved}."))
    if PayoutResultStatus.PAID in answers and w.status != WithdrawalStatus.PAID:
        found.append(Mismatch(w, "PROVIDER_PAID", f"The provider reported it paid, but it is {w.status.value}."))
    if PayoutResultStatus.FAILED in answers and w.status != WithdrawalStatus.FAILED:
        found.append(Mismatch(w, "PROVIDER_FAILED", f"The provider reported it failed, "
                                                    f"but it is {w.status.value}."))
    if w.status == WithdrawalStatus.PAID and PayoutResultStatus.PAID not in answers:
        found.append(Mismatch(w, "UNCONFIRMED", "Paid in the ledger without a provider confirmation."))
    return found


async def reconcile(session: AsyncSession, viewer: Viewer, *, start: datetime, end: datetime) -> Reconciliation:
    """Finance's view of a period [start, end): amounts requested (by request time), paid
    (by payment time, with fees), failed, rejected and in flight, plus every withdrawal of the
    period whose ledger entries or provider answers disagree with its state."""
    viewer.require(Permission.MANAGE_FINANCE)
    check_period(start, end)
    report = Reconciliation(period_start=start, period_end=end)
    in_period = (Withdrawal.created_at >= start) & (Withdrawal.created_at < end)
    paid_in_period = (Withdrawal.paid_at >= start) & (Withdrawal.paid_at < end)
    failed_in_period = (Withdrawal.failed_at >= start) & (Withdrawal.failed_at < end)
    rejected_in_period = ((Withdrawal.status == WithdrawalStatus.REJECTED) & (Withdrawal.reviewed_at >= start)
                          & (Withdrawal.reviewed_at < end))
    rows = list((await session.scalars(
        select(Withdrawal).where(in_period | paid_in_period | failed_in_period | rejected_in_period)
        .order_by(Withdrawal.id))).all())
    for w in rows:
        _count(report, w, start, end)
    sums, answers = await _ledger_and_answers(session, [w.id for w in rows])
    nothing_moved = dict.fromkeys(BUCKETS, 0)
    for w in rows:
        report.mismatches.extend(_mismatches(w, sums.get(w.id, nothing_moved), answers.get(w.id, set())))
    return report
