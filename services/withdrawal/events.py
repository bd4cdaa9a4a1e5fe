"""The live event a withdrawal's change announces."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from auth.permissions import Permission
from models.withdrawal import Withdrawal
from realtime import outbox
from services.withdrawal.movements import SUBJECT


async def notify(session: AsyncSession, withdrawal: Withdrawal) -> None:
    """A live event in the same transaction, to the owner and MANAGE_FINANCE staff (the ledger
    announces the wallet's own change). Payloads carry no account numbers."""
    await outbox.emit(session, event_type=outbox.WITHDRAWAL_UPDATED, subject_type=SUBJECT,
                      subject_id=withdrawal.id, audience_user_ids=[withdrawal.user_id],
                      staff_permission=Permission.MANAGE_FINANCE,
                      payload={"status": withdrawal.status.value, "amountFen": withdrawal.amount_fen,
                               "feeFen": withdrawal.fee_fen, "netFen": withdrawal.net_fen,
                               "method": withdrawal.method.value})
