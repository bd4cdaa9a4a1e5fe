"""Requesting a withdrawal, and the withdraw page's overview.

A request locks the wallet row (ledger.wallet_for_update: SELECT ... FOR UPDATE on PostgreSQL;
SQLite writers serialise) *before* it checks the balance, the debt and the daily limits, so
concurrent requests cannot spend the same fen.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from auth.viewer import Viewer
from core.config import Settings
from core.errors import ErrorCode, ServiceError
from models.base import utcnow
from models.wallet import Wallet
from models.withdrawal import Withdrawal, WithdrawalSettings, WithdrawalStatus
from services import audit, ledger
from services.payout import PayoutProvider
from services.withdrawal.accounts import account_to_pay
from services.withdrawal.eligibility import verified_identity
from services.withdrawal.events import notify
from services.withdrawal.movements import SUBJECT, hold
from services.withdrawal.payout import approve_automatically
from services.withdrawal.rules import auto_approves, check_request, expected_arrival, get_settings, used_today

MAX_IDEMPOTENCY_KEY = 64


async def _by_client_key(session: AsyncSession, user_id: int, key: str) -> Withdrawal | None:
    return await session.scalar(select(Withdrawal).where(Withdrawal.user_id == user_id,
                                                         Withdrawal.idempotency_key == key))


async def request_withdrawal(session: AsyncSession, viewer: Viewer, settings: Settings, provider: PayoutProvider,
                             *, amount_fen: int, payout_account_id: int | None,
                             idempotency_key: str | None) -> Withdrawal:
    """A distributor asks to withdraw `amount_fen` (fee included) to one of their accounts.
    The same idempotency key from the same user returns the first request."""
    user_id = viewer.require_user()
    key = (idempotency_key or "").strip() or None
    if key is not None:
        if len(key) > MAX_IDEMPOTENCY_KEY:
            raise ServiceError(ErrorCode.INVALID, "An idempotency key has at most 64 characters.", "idempotencyKey")
        existing = await _by_client_key(session, user_id, key)
        if existing is not None:
            return existing
    await verified_identity(session, user_id, require_active=True)
    if amount_fen <= 0:
        raise ServiceError(ErrorCode.INVALID, "Enter an amount above zero.", "amount")
    account = await account_to_pay(session, user_id, payout_account_id)
    rules = await get_settings(session)

    # From here on the wallet row is locked: the checks below cannot race another request.
    wallet = await ledger.wallet_for_update(session, user_id)
    if key is not None:
        existing = await _by_client_key(session, user_id, key)
        if existing is not None:
            return existing
    now = utcnow()
    fee, net = await check_request(session, rules, wallet, amount_fen, now)
    withdrawal = Withdrawal(
        user_id=user_id, payout_account_id=account.id, idempotency_key=key, method=account.method,
        bank_name=account.bank_name, branch_name=account.branch_name, holder_name=account.holder_name,
        number_encrypted=account.number_encrypted, number_masked=account.number_masked,
        amount_fen=amount_fen, fee_fen=fee, net_fen=net, status=WithdrawalStatus.REQUESTED,
        expected_arrival_at=expected_arrival(rules, account.method, now), created_at=now, updated_at=now)
    session.add(withdrawal)
    await session.flush()
    await hold(session, withdrawal)
    await audit.record(session, actor_id=user_id, action="withdrawal.request", subject_type=SUBJECT,
                       subject_id=withdrawal.id, details={"amount_fen": amount_fen, "fee_fen": fee,
                                                          "method": account.method.value})
    await notify(session, withdrawal)
    if auto_approves(rules, amount_fen):
        await approve_automatically(session, settings, provider, withdrawal)
    return withdrawal


@dataclass
class Overview:
    available_fen: int
    withdrawing_fen: int
    withdrawn_fen: int
    debt_fen: int
    today_count: int
    today_amount_fen: int
    rules: WithdrawalSettings


async def overview(session: AsyncSession, viewer: Viewer) -> Overview:
    """What the viewer's withdraw page shows: balances, today's use of the limits, the rules."""
    user_id = viewer.require_user()
    wallet = await session.scalar(select(Wallet).where(Wallet.user_id == user_id))
    count, total = await used_today(session, user_id, utcnow())
    return Overview(available_fen=wallet.available_fen if wallet else 0,
                    withdrawing_fen=wallet.withdrawing_fen if wallet else 0,
                    withdrawn_fen=wallet.withdrawn_fen if wallet else 0,
                    debt_fen=wallet.debt_fen if wallet else 0,
                    today_count=count, today_amount_fen=total, rules=await get_settings(session))
