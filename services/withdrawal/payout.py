"""Review and payout: the state machine REQUESTED -> APPROVED -> PAYING -> PAID or FAILED (or
REQUESTED -> REJECTED), and the provider's answers that drive it.

Review and provider results lock the withdrawal row and act only on the state they expect, so
a replayed or raced callback changes nothing.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from auth.permissions import Permission
from auth.viewer import Viewer
from core.config import Settings
from core.errors import ErrorCode, ServiceError
from models.base import utcnow
from models.withdrawal import PayoutResult, PayoutResultStatus, Withdrawal, WithdrawalStatus
from services import audit
from services.payout import PayoutAnswer, PayoutOrder, PayoutProvider
from services.withdrawal.events import notify
from services.withdrawal.masking import decrypt_number
from services.withdrawal.movements import SUBJECT, give_back, pay_out


async def _locked(session: AsyncSession, withdrawal_id: int, field: str = "id") -> Withdrawal:
    # populate_existing: a row read earlier in this session must show what the lock protects.
    withdrawal = await session.scalar(select(Withdrawal).where(Withdrawal.id == withdrawal_id).with_for_update()
                                      .execution_options(populate_existing=True))
    if withdrawal is None:
        raise ServiceError(ErrorCode.NOT_FOUND, "No withdrawal has this id.", field)
    return withdrawal


def _require_status(withdrawal: Withdrawal, *expected: WithdrawalStatus) -> None:
    if withdrawal.status not in expected:
        raise ServiceError(ErrorCode.INVALID_TRANSITION,
                           f"This withdrawal is already {withdrawal.status.value.lower()}.", "id")


async def approve(session: AsyncSession, viewer: Viewer, settings: Settings, provider: PayoutProvider, *,
                  withdrawal_id: int, note: str | None) -> Withdrawal:
    actor_id = viewer.require(Permission.MANAGE_FINANCE)
    withdrawal = await _locked(session, withdrawal_id)
    _require_status(withdrawal, WithdrawalStatus.REQUESTED)
    await _approve(session, settings, provider, withdrawal, actor_id=actor_id, auto=False,
                   note=(note or "").strip() or None)
    return withdrawal


async def approve_automatically(session: AsyncSession, settings: Settings, provider: PayoutProvider,
                                withdrawal: Withdrawal) -> None:
    """Approve and pay a request the rules let through without review (the caller just made it)."""
    await _approve(session, settings, provider, withdrawal, actor_id=None, auto=True)


async def _approve(session: AsyncSession, settings: Settings, provider: PayoutProvider, withdrawal: Withdrawal, *,
                   actor_id: int | None, auto: bool, note: str | None = None) -> None:
    now = utcnow()
    withdrawal.status = WithdrawalStatus.APPROVED
    withdrawal.auto_approved = auto
    withdrawal.reviewed_by = actor_id
    withdrawal.reviewed_at = now
    withdrawal.updated_at = now
    await session.flush()
    await audit.record(session, actor_id=actor_id, action="withdrawal.approve" + (".auto" if auto else ""),
                       subject_type=SUBJECT, subject_id=withdrawal.id, reason=note,
                       details={"amount_fen": withdrawal.amount_fen})
    await notify(session, withdrawal)
    await _pay(session, settings, provider, withdrawal)


async def _pay(session: AsyncSession, settings: Settings, provider: PayoutProvider, withdrawal: Withdrawal) -> None:
    withdrawal.status = WithdrawalStatus.PAYING
    withdrawal.provider = provider.name
    withdrawal.provider_reference = f"WD{withdrawal.id:010d}"
    withdrawal.updated_at = utcnow()
    await session.flush()
    await audit.record(session, actor_id=None, action="withdrawal.paying", subject_type=SUBJECT,
                       subject_id=withdrawal.id, details={"provider": provider.name,
                                                          "reference": withdrawal.provider_reference})
    await notify(session, withdrawal)
    order = PayoutOrder(
        reference=withdrawal.provider_reference, method=withdrawal.method,
        account_number=decrypt_number(settings, withdrawal.number_encrypted),
        holder_name=withdrawal.holder_name, bank_name=withdrawal.bank_name, net_fen=withdrawal.net_fen)
    answer = await provider.pay(order)
    await _apply_answer(session, withdrawal, provider.name, answer)


async def _apply_answer(session: AsyncSession, withdrawal: Withdrawal, provider_name: str,
                        answer: PayoutAnswer) -> bool:
    """Record a provider's answer for a locked withdrawal and act on it if it still can.
    Returns whether anything changed."""
    seen = await session.scalar(select(PayoutResult).where(PayoutResult.withdrawal_id == withdrawal.id,
                                                           PayoutResult.status == answer.status))
    if seen is not None:
        return False  # a replay: this answer was handled already
    acts = withdrawal.status == WithdrawalStatus.PAYING
    session.add(PayoutResult(withdrawal_id=withdrawal.id, provider=provider_name, status=answer.status,
                             transaction_id=(answer.transaction_id or None) and answer.transaction_id[:64],
                             message=(answer.message or None) and answer.message[:200],
                             ignored=not acts and answer.status != PayoutResultStatus.PENDING))
    await session.flush()
    if not acts or answer.status == PayoutResultStatus.PENDING:
        return True
    now = utcnow()
    withdrawal.provider_transaction_id = answer.transaction_id
    withdrawal.updated_at = now
    if answer.status == PayoutResultStatus.PAID:
        await pay_out(session, withdrawal)
        withdrawal.status = WithdrawalStatus.PAID
        withdrawal.paid_at = now
        action = "withdrawal.paid"
    else:
        await give_back(session, withdrawal, "withdrawal failed")
        withdrawal.status = WithdrawalStatus.FAILED
        withdrawal.failed_at = now
        withdrawal.failure_reason = answer.message or "The payout failed."
        action = "withdrawal.failed"
    await session.flush()
    await audit.record(session, actor_id=None, action=action, subject_type=SUBJECT, subject_id=withdrawal.id,
                       reason=withdrawal.failure_reason if answer.status == PayoutResultStatus.FAILED else None,
                       details={"provider": provider_name, "transaction_id": answer.transaction_id})
    await notify(session, withdrawal)
    return True


async def reject(session: AsyncSession, viewer: Viewer, *, withdrawal_id: int, reason: str | None) -> Withdrawal:
    actor_id = viewer.require(Permission.MANAGE_FINANCE)
    reason = (reason or "").strip()
    if not reason:
        raise ServiceError(ErrorCode.REQUIRED, "Say why the withdrawal is rejected.", "reason")
    withdrawal = await _locked(session, withdrawal_id)
    _require_status(withdrawal, WithdrawalStatus.REQUESTED)
    await give_back(session, withdrawal, "withdrawal rejected")
    now = utcnow()
    withdrawal.status = WithdrawalStatus.REJECTED
    withdrawal.reject_reason = reason[:1000]
    withdrawal.reviewed_by = actor_id
    withdrawal.reviewed_at = now
    withdrawal.updated_at = now
    await session.flush()
    await audit.record(session, actor_id=actor_id, action="withdrawal.reject", subject_type=SUBJECT,
                       subject_id=withdrawal.id, reason=withdrawal.reject_reason,
                       details={"amount_fen": withdrawal.amount_fen})
    await notify(session, withdrawal)
    return withdrawal


async def apply_payout_result(session: AsyncSession, *, provider_name: str, reference: str,
                              status: PayoutResultStatus, transaction_id: str | None,
                              message: str | None) -> tuple[Withdrawal, bool]:
    """A provider's callback: idempotent (a replay changes nothing) and safe under races (the
    withdrawal row is locked and only a PAYING withdrawal moves)."""
    withdrawal_id = await session.scalar(select(Withdrawal.id).where(Withdrawal.provider_reference == reference,
                                                                     Withdrawal.provider == provider_name))
    if withdrawal_id is None:
        raise ServiceError(ErrorCode.NOT_FOUND, "No payout has this reference.", "reference")
    withdrawal = await _locked(session, withdrawal_id, "reference")
    changed = await _apply_answer(session, withdrawal, provider_name,
                                  PayoutAnswer(status=status, transaction_id=transaction_id, message=message))
    return withdrawal, changed
