"""The withdrawals of a period as a CSV table for finance (numbers masked)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from auth.permissions import Permission
from auth.viewer import Viewer
from core.money import format_money
from models.withdrawal import Withdrawal, WithdrawalStatus
from services.export import csv_table
from services.withdrawal.listing import WithdrawalFilter, filtered
from services.withdrawal.reconciliation import check_period

CSV_COLUMNS = ("id", "requested_at", "user_id", "method", "holder_name", "account", "bank", "amount", "fee",
               "net", "status", "reviewed_at", "paid_at", "failed_at", "reason", "provider_reference")


def _row(w: Withdrawal) -> tuple:
    return (w.id, w.created_at, w.user_id, w.method.value, w.holder_name, w.number_masked,
            " ".join(filter(None, (w.bank_name, w.branch_name))), format_money(w.amount_fen),
            format_money(w.fee_fen), format_money(w.net_fen), w.status.value, w.reviewed_at, w.paid_at,
            w.failed_at, w.reject_reason or w.failure_reason, w.provider_reference)


async def export_csv(session: AsyncSession, viewer: Viewer, *, start: datetime, end: datetime,
                     status: WithdrawalStatus | None) -> str:
    """The period's withdrawals (by request time) as CSV, for MANAGE_FINANCE; numbers masked."""
    viewer.require(Permission.MANAGE_FINANCE)
    check_period(start, end)
    stmt = filtered(select(Withdrawal), WithdrawalFilter(status=status, created_from=start, created_before=end))
    rows = (await session.scalars(stmt.order_by(Withdrawal.id))).all()
    return csv_table(CSV_COLUMNS, (_row(w) for w in rows))
