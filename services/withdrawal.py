"""Withdrawals: payout accounts, requests and their review, payouts, reconciliation, export.

Every movement of money goes through services.ledger with one idempotency key per transition:
    withdrawal:<id>:requested  available -> withdrawing
    withdrawal:<id>:returned   withdrawing -> available   (REJECTED or FAILED)
    withdrawal:<id>:paid       withdrawing -> withdrawn   (PAID)
The amount includes the fee: the distributor receives net = amount - fee, and the whole amount
leaves the wallet when paid.

Concurrency: a request locks the wallet row (ledger.wallet_for_update, SELECT ... FOR UPDATE on
PostgreSQL; SQLite writers serialise) *before* it checks the balance, the debt and the daily
limits, so concurrent requests cannot spend the same fen. Review and provider results lock the
withdrawal row and act only on the state they expect, so a replayed or raced callback changes
nothing.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from auth.permissions import Permission
from auth.viewer import Viewer
from core.config import Settings
from core.crypto import decrypt_field, encrypt_field
from core.errors import ErrorCode, PermissionDenied, ServiceError
from core.money import format_money, split_bps
from core.pagination import Page, SortKey, paginate
from models.account import User
from models.base import utcnow
from models.network import Application, ApplicationStatus, Distributor, DistributorStatus
from models.wallet import LedgerEntry, LedgerKind, Wallet
from models.withdrawal import (
    PayoutAccount,
    PayoutMethod,
    PayoutResult,
    PayoutResultStatus,
    Withdrawal,
    WithdrawalSettings,
    WithdrawalStatus,
)
from realtime import outbox
from services import audit, ledger
from services.payout import PayoutAnswer, PayoutOrder, PayoutProvider

SETTINGS_ID = 1
MAX_ACCOUNTS = 10
CHINA_TZ = timezone(timedelta(hours=8))  # days (for daily limits) are Beijing calendar days
NUMBER_CONTEXT = "payout_account"
SUBJECT = "Withdrawal"
IN_FLIGHT = (WithdrawalStatus.REQUESTED, WithdrawalStatus.APPROVED, WithdrawalStatus.PAYING)
# Requests that count against the daily limits: everything but those whose money came back.
COUNTED = (WithdrawalStatus.REQUESTED, WithdrawalStatus.APPROVED, WithdrawalStatus.PAYING, WithdrawalStatus.PAID)

_BANK_CARD_RE = re.compile(r"^\d{12,19}$")
_PHONE_RE = re.compile(r"^1[3-9]\d{9}$")
_EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")


# ---------------------------------------------------------------- access

def is_finance(viewer: Viewer) -> bool:
    return viewer.has(Permission.MANAGE_FINANCE)


def can_read_all(viewer: Viewer) -> bool:
    """Finance, and report readers (who see numbers masked), read every withdrawal."""
    return is_finance(viewer) or viewer.has(Permission.VIEW_REPORTS)


def account_number_for(viewer: Viewer, settings: Settings, obj: PayoutAccount | Withdrawal) -> str:
    """The account number as this viewer may see it: in full for finance staff, masked for
    everyone else, the owner included."""
    if is_finance(viewer):
        return decrypt_field(settings.field_encryption_key, obj.number_encrypted, context=NUMBER_CONTEXT)
    return obj.number_masked


# ---------------------------------------------------------------- numbers: validate, mask, hash

def mask_bank_card(number: str) -> str:
    return f"{number[:4]} **** **** {number[-4:]}"


def mask_alipay(account: str) -> str:
    if "@" in account:
        local, _, domain = account.partition("@")
        return f"{local[:1]}***@{domain}"
    return account[:3] + "****" + account[-4:]


def mask_openid(openid: str) -> str:
    if len(openid) <= 8:
        return "*" * len(openid)
    return openid[:4] + "****" + openid[-4:]


def mask_number(method: PayoutMethod, number: str) -> str:
    return {PayoutMethod.BANK_CARD: mask_bank_card, PayoutMethod.ALIPAY: mask_alipay,
            PayoutMethod.WECHAT: mask_openid}[method](number)


def normalize_number(method: PayoutMethod, number: str | None) -> str:
    raw = (number or "").strip()
    if method == PayoutMethod.BANK_CARD:
        digits = re.sub(r"[\s-]", "", raw)
        if not _BANK_CARD_RE.match(digits):
            raise ServiceError(ErrorCode.INVALID_ACCOUNT_NUMBER, "A bank card number has 12 to 19 digits.",
                               "accountNumber")
        return digits
    if method == PayoutMethod.ALIPAY:
        account = raw.lower() if "@" in raw else re.sub(r"[\s-]", "", raw)
        if not (_PHONE_RE.match(account) or _EMAIL_RE.match(account)):
            raise ServiceError(ErrorCode.INVALID_ACCOUNT_NUMBER,
                               "An Alipay account is a mainland mobile number or an e-mail address.",
                               "accountNumber")
        return account
    return raw


def number_hash(settings: Settings, method: PayoutMethod, number: str) -> str:
    return hmac.new(("payout-account:" + settings.field_encryption_key).encode(),
                    f"{method.value}:{number}".encode(), hashlib.sha256).hexdigest()


def _plain_name(name: str | None) -> str:
    return re.sub(r"[\s·•.]", "", name or "").casefold()


# ---------------------------------------------------------------- fees and settings

def compute_fee(amount_fen: int, fee_bps: int, fee_min_fen: int) -> tuple[int, int]:
    """(fee, net): the fee is the basis-point share rounded down, at least the minimum, never
    more than the amount; fee + net == amount."""
    fee = min(amount_fen, max(split_bps(amount_fen, fee_bps), fee_min_fen))
    return fee, amount_fen - fee


def default_settings() -> WithdrawalSettings:
    return WithdrawalSettings(
        id=SETTINGS_ID, min_amount_fen=100, fee_bps=0, fee_min_fen=0, daily_count_limit=3,
        daily_amount_limit_fen=5_000_000, auto_approve_below_fen=None, bank_card_hours=24,
        bank_card_peak_hours=48, wechat_hours=168, alipay_hours=168, peak_starts_at=None, peak_ends_at=None,
        updated_at=utcnow())


async def get_settings(session: AsyncSession) -> WithdrawalSettings:
    row = await session.get(WithdrawalSettings, SETTINGS_ID)
    return row if row is not None else default_settings()


SETTINGS_FIELDS = ("min_amount_fen", "fee_bps", "fee_min_fen", "daily_count_limit", "daily_amount_limit_fen",
                   "auto_approve_below_fen", "bank_card_hours", "bank_card_peak_hours", "wechat_hours",
                   "alipay_hours", "peak_starts_at", "peak_ends_at")
_NOT_NULL = {"min_amount_fen", "fee_bps", "fee_min_fen", "bank_card_hours", "bank_card_peak_hours",
             "wechat_hours", "alipay_hours"}


def _plain(value):
    return value.isoformat() if isinstance(value, datetime) else value


async def update_settings(session: AsyncSession, viewer: Viewer, changes: dict, *,
                          field_names: dict[str, str] | None = None) -> WithdrawalSettings:
    """Change the withdrawal rules (MANAGE_FINANCE); audited with before and after."""
    actor_id = viewer.require(Permission.MANAGE_FINANCE)
    names = field_names or {}
    for key, value in changes.items():
        if key not in SETTINGS_FIELDS:
            raise ValueError(f"unknown withdrawal setting {key}")
        api_field = names.get(key, key)
        if value is None and key in _NOT_NULL:
            raise ServiceError(ErrorCode.REQUIRED, "This setting cannot be empty.", api_field)
        if isinstance(value, int) and not isinstance(value, bool):
            smallest = 1 if key in ("min_amount_fen", "daily_count_limit", "daily_amount_limit_fen") else 0
            if value < smallest:
                raise ServiceError(ErrorCode.INVALID, f"Must be at least {smallest}.", api_field)
            if key == "fee_bps" and value > 10_000:
                raise ServiceError(ErrorCode.INVALID, "A fee rate is at most 10000 basis points.", api_field)
    row = await session.scalar(select(WithdrawalSettings).where(WithdrawalSettings.id == SETTINGS_ID)
                               .with_for_update())
    if row is None:
        row = default_settings()
        session.add(row)
    before = {k: _plain(getattr(row, k)) for k in SETTINGS_FIELDS}
    for key, value in changes.items():
        setattr(row, key, value)
    if (row.peak_starts_at is None) != (row.peak_ends_at is None) or (
            row.peak_starts_at is not None and row.peak_starts_at >= row.peak_ends_at):
        raise ServiceError(ErrorCode.INVALID, "A peak period needs a start before its end (or neither).",
                           names.get("peak_starts_at", "peak_starts_at"))
    row.updated_at = utcnow()
    await session.flush()
    await audit.record(session, actor_id=actor_id, action="withdrawal.settings.update",
                       subject_type="WithdrawalSettings", subject_id=SETTINGS_ID,
                       details={"before": before, "after": {k: _plain(getattr(row, k)) for k in SETTINGS_FIELDS}})
    return row


def expected_arrival(rules: WithdrawalSettings, method: PayoutMethod, at: datetime) -> datetime:
    if method == PayoutMethod.BANK_CARD:
        peak = rules.peak_starts_at is not None and rules.peak_starts_at <= at < rules.peak_ends_at
        hours = rules.bank_card_peak_hours if peak else rules.bank_card_hours
    elif method == PayoutMethod.WECHAT:
        hours = rules.wechat_hours
    else:
        hours = rules.alipay_hours
    return at + timedelta(hours=hours)


# ---------------------------------------------------------------- who may withdraw

@dataclass(frozen=True)
class Identity:
    distributor: Distributor
    real_name: str


async def verified_identity(session: AsyncSession, user_id: int, *, require_active: bool) -> Identity:
    """The distributor and their verified real name; refuses the unverified or (if asked) inactive.

    Real name is verified when the approved application carried a name and an ID card number;
    the agreement is accepted when that application records an agreement version."""
    distributor = await session.scalar(select(Distributor).where(Distributor.user_id == user_id))
    if distributor is None or distributor.path is None:
        raise ServiceError(ErrorCode.NOT_A_DISTRIBUTOR, "Only distributors can withdraw.")
    if require_active and distributor.status != DistributorStatus.ACTIVE:
        raise ServiceError(ErrorCode.DISTRIBUTOR_INACTIVE,
                           f"Your distributor account is {distributor.status.value.lower()}.")
    application = await session.scalar(
        select(Application).where(Application.distributor_id == distributor.id,
                                  Application.status == ApplicationStatus.APPROVED)
        .order_by(Application.id.desc()).limit(1))
    if application is None or not (application.agreement_version or "").strip():
        raise ServiceError(ErrorCode.AGREEMENT_REQUIRED, "Accept the distributor agreement first.")
    if not (application.real_name and application.id_card_encrypted):
        raise ServiceError(ErrorCode.REAL_NAME_REQUIRED,
                           "Verify your real name (name and ID card) before withdrawing.")
    return Identity(distributor=distributor, real_name=application.real_name)


# ---------------------------------------------------------------- payout accounts

async def add_account(session: AsyncSession, viewer: Viewer, settings: Settings, *, method: PayoutMethod,
                      holder_name: str | None, account_number: str | None, bank_name: str | None,
                      branch_name: str | None, make_default: bool) -> PayoutAccount:
    user_id = viewer.require_user()
    identity = await verified_identity(session, user_id, require_active=False)
    if method == PayoutMethod.WECHAT:
        openid = await session.scalar(select(User.wechat_openid).where(User.id == user_id))
        if not openid:
            raise ServiceError(ErrorCode.WECHAT_NOT_BOUND,
                               "Sign in from the mini-program once to link your WeChat.", "method")
        number = openid
        holder = (holder_name or "").strip() or identity.real_name
        bank_name = branch_name = None
    else:
        number = normalize_number(method, account_number)
        holder = (holder_name or "").strip()
        if not holder:
            raise ServiceError(ErrorCode.REQUIRED, "Enter the account holder's name.", "holderName")
        if method == PayoutMethod.BANK_CARD:
            bank_name = (bank_name or "").strip()
            branch_name = (branch_name or "").strip() or None
            if not bank_name:
                raise ServiceError(ErrorCode.REQUIRED, "Enter the bank.", "bankName")
        else:
            bank_name = branch_name = None
    if _plain_name(holder) != _plain_name(identity.real_name):
        raise ServiceError(ErrorCode.HOLDER_NAME_MISMATCH,
                           "The account holder must be you: the name must match your verified real name.",
                           "holderName")
    digest = number_hash(settings, method, number)
    accounts = list((await session.scalars(
        select(PayoutAccount).where(PayoutAccount.user_id == user_id, PayoutAccount.removed_at.is_(None))
        .with_for_update())).all())
    if any(a.number_hash == digest for a in accounts):
        raise ServiceError(ErrorCode.PAYOUT_ACCOUNT_EXISTS, "You have already added this account.",
                           "accountNumber")
    if len(accounts) >= MAX_ACCOUNTS:
        raise ServiceError(ErrorCode.INVALID, f"You can keep at most {MAX_ACCOUNTS} payout accounts.")
    make_default = make_default or not any(a.is_default for a in accounts)
    if make_default:
        for other in accounts:
            other.is_default = False
    account = PayoutAccount(
        user_id=user_id, method=method, bank_name=(bank_name or None) and bank_name[:60],
        branch_name=branch_name and branch_name[:100], holder_name=holder[:40],
        number_encrypted=encrypt_field(settings.field_encryption_key, number, context=NUMBER_CONTEXT),
        number_masked=mask_number(method, number), number_hash=digest, is_default=make_default)
    session.add(account)
    await session.flush()
    await audit.record(session, actor_id=user_id, action="payout_account.add", subject_type="PayoutAccount",
                       subject_id=account.id, details={"method": method.value, "number": account.number_masked})
    return account


async def my_accounts(session: AsyncSession, viewer: Viewer) -> list[PayoutAccount]:
    user_id = viewer.require_user()
    return list((await session.scalars(
        select(PayoutAccount).where(PayoutAccount.user_id == user_id, PayoutAccount.removed_at.is_(None))
        .order_by(PayoutAccount.is_default.desc(), PayoutAccount.id))).all())


async def _own_account(session: AsyncSession, user_id: int, account_id: int, field: str) -> PayoutAccount:
    account = await session.scalar(select(PayoutAccount).where(PayoutAccount.id == account_id).with_for_update())
    if account is None or account.user_id != user_id or account.removed_at is not None:
        raise ServiceError(ErrorCode.NOT_FOUND, "You have no payout account with this id.", field)
    return account


async def set_default_account(session: AsyncSession, viewer: Viewer, account_id: int) -> PayoutAccount:
    user_id = viewer.require_user()
    account = await _own_account(session, user_id, account_id, "id")
    await session.execute(update(PayoutAccount).where(PayoutAccount.user_id == user_id,
                                                      PayoutAccount.id != account.id)
                          .values(is_default=False).execution_options(synchronize_session="fetch"))
    account.is_default = True
    await session.flush()
    return account


async def remove_account(session: AsyncSession, viewer: Viewer, account_id: int) -> PayoutAccount:
    """Remove an account (kept for the history of withdrawals that paid to it); the newest
    remaining account becomes the default if this one was."""
    user_id = viewer.require_user()
    account = await _own_account(session, user_id, account_id, "id")
    account.removed_at = utcnow()
    was_default, account.is_default = account.is_default, False
    await session.flush()
    if was_default:
        successor = await session.scalar(
            select(PayoutAccount).where(PayoutAccount.user_id == user_id, PayoutAccount.removed_at.is_(None))
            .order_by(PayoutAccount.id.desc()).limit(1))
        if successor is not None:
            successor.is_default = True
            await session.flush()
    await audit.record(session, actor_id=user_id, action="payout_account.remove", subject_type="PayoutAccount",
                       subject_id=account.id, details={"method": account.method.value,
                                                       "number": account.number_masked})
    return account


async def visible_account(session: AsyncSession, viewer: Viewer, account_id: int) -> PayoutAccount | None:
    """An account for node(id:): its owner (while not removed) and finance staff."""
    if viewer.user_id is None:
        return None
    account = await session.get(PayoutAccount, account_id)
    if account is None:
        return None
    if is_finance(viewer) or (account.user_id == viewer.user_id and account.removed_at is None):
        return account
    return None


async def accounts_by_ids(session: AsyncSession, ids: list[int]) -> dict[int, PayoutAccount]:
    rows = await session.scalars(select(PayoutAccount).where(PayoutAccount.id.in_(ids)))
    return {a.id: a for a in rows}


# ---------------------------------------------------------------- requests

def china_day_start(at: datetime) -> datetime:
    local = at.astimezone(CHINA_TZ)
    return local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)


async def _used_today(session: AsyncSession, user_id: int, now: datetime) -> tuple[int, int]:
    count, total = (await session.execute(
        select(func.count(Withdrawal.id), func.coalesce(func.sum(Withdrawal.amount_fen), 0))
        .where(Withdrawal.user_id == user_id, Withdrawal.created_at >= china_day_start(now),
               Withdrawal.status.in_(COUNTED)))).one()
    return int(count), int(total)


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
        if len(key) > 64:
            raise ServiceError(ErrorCode.INVALID, "An idempotency key has at most 64 characters.", "idempotencyKey")
        existing = await _by_client_key(session, user_id, key)
        if existing is not None:
            return existing
    await verified_identity(session, user_id, require_active=True)
    if amount_fen <= 0:
        raise ServiceError(ErrorCode.INVALID, "Enter an amount above zero.", "amount")
    if payout_account_id is None:
        account = await session.scalar(select(PayoutAccount).where(
            PayoutAccount.user_id == user_id, PayoutAccount.removed_at.is_(None), PayoutAccount.is_default))
        if account is None:
            raise ServiceError(ErrorCode.NO_PAYOUT_ACCOUNT, "Add a payout account first.", "payoutAccountId")
    else:
        account = await session.get(PayoutAccount, payout_account_id)
        if account is None or account.user_id != user_id or account.removed_at is not None:
            raise ServiceError(ErrorCode.NOT_FOUND, "You have no payout account with this id.", "payoutAccountId")
    rules = await get_settings(session)

    # From here on the wallet row is locked: the checks below cannot race another request.
    wallet = await ledger.wallet_for_update(session, user_id)
    if key is not None:
        existing = await _by_client_key(session, user_id, key)
        if existing is not None:
            return existing
    if wallet.debt_fen > 0:
        raise ServiceError(ErrorCode.OUTSTANDING_DEBT,
                           f"Withdrawals are blocked until the clawback debt of {format_money(wallet.debt_fen)} "
                           "is repaid by new commission.")
    if amount_fen < rules.min_amount_fen:
        raise ServiceError(ErrorCode.AMOUNT_BELOW_MINIMUM,
                           f"The smallest withdrawal is {format_money(rules.min_amount_fen)}.", "amount")
    if amount_fen > wallet.available_fen:
        raise ServiceError(ErrorCode.INSUFFICIENT_FUNDS,
                           f"You can withdraw at most {format_money(wallet.available_fen)}.", "amount")
    now = utcnow()
    count, total = await _used_today(session, user_id, now)
    if rules.daily_count_limit is not None and count >= rules.daily_count_limit:
        raise ServiceError(ErrorCode.DAILY_COUNT_LIMIT,
                           f"At most {rules.daily_count_limit} withdrawals a day; try again tomorrow.")
    if rules.daily_amount_limit_fen is not None and total + amount_fen > rules.daily_amount_limit_fen:
        left = max(0, rules.daily_amount_limit_fen - total)
        raise ServiceError(ErrorCode.DAILY_AMOUNT_LIMIT,
                           f"You can withdraw at most {format_money(left)} more today.", "amount")
    fee, net = compute_fee(amount_fen, rules.fee_bps, rules.fee_min_fen)
    if net <= 0:
        raise ServiceError(ErrorCode.AMOUNT_BELOW_MINIMUM, "The amount does not cover the fee.", "amount")
    withdrawal = Withdrawal(
        user_id=user_id, payout_account_id=account.id, idempotency_key=key, method=account.method,
        bank_name=account.bank_name, branch_name=account.branch_name, holder_name=account.holder_name,
        number_encrypted=account.number_encrypted, number_masked=account.number_masked,
        amount_fen=amount_fen, fee_fen=fee, net_fen=net, status=WithdrawalStatus.REQUESTED,
        expected_arrival_at=expected_arrival(rules, account.method, now), created_at=now, updated_at=now)
    session.add(withdrawal)
    await session.flush()
    await ledger.post(session, user_id=user_id, kind=LedgerKind.WITHDRAWAL_REQUESTED,
                      deltas=ledger.Deltas(available=-amount_fen, withdrawing=amount_fen),
                      idempotency_key=f"withdrawal:{withdrawal.id}:requested", subject_type=SUBJECT,
                      subject_id=withdrawal.id, memo=f"withdrawal request {format_money(amount_fen)}")
    await audit.record(session, actor_id=user_id, action="withdrawal.request", subject_type=SUBJECT,
                       subject_id=withdrawal.id, details={"amount_fen": amount_fen, "fee_fen": fee,
                                                          "method": account.method.value})
    await _notify(session, withdrawal)
    if rules.auto_approve_below_fen is not None and amount_fen < rules.auto_approve_below_fen:
        await _approve(session, settings, provider, withdrawal, actor_id=None, auto=True)
    return withdrawal


# ---------------------------------------------------------------- review and payout

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
    await _notify(session, withdrawal)
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
    await _notify(session, withdrawal)
    order = PayoutOrder(
        reference=withdrawal.provider_reference, method=withdrawal.method,
        account_number=decrypt_field(settings.field_encryption_key, withdrawal.number_encrypted,
                                     context=NUMBER_CONTEXT),
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
        await ledger.post(session, user_id=withdrawal.user_id, kind=LedgerKind.WITHDRAWAL_PAID,
                          deltas=ledger.Deltas(withdrawing=-withdrawal.amount_fen, withdrawn=withdrawal.amount_fen),
                          idempotency_key=f"withdrawal:{withdrawal.id}:paid", subject_type=SUBJECT,
                          subject_id=withdrawal.id, memo="withdrawal paid")
        withdrawal.status = WithdrawalStatus.PAID
        withdrawal.paid_at = now
        action = "withdrawal.paid"
    else:
        await _return_money(session, withdrawal, "withdrawal failed")
        withdrawal.status = WithdrawalStatus.FAILED
        withdrawal.failed_at = now
        withdrawal.failure_reason = answer.message or "The payout failed."
        action = "withdrawal.failed"
    await session.flush()
    await audit.record(session, actor_id=None, action=action, subject_type=SUBJECT, subject_id=withdrawal.id,
                       reason=withdrawal.failure_reason if answer.status == PayoutResultStatus.FAILED else None,
                       details={"provider": provider_name, "transaction_id": answer.transaction_id})
    await _notify(session, withdrawal)
    return True


async def _return_money(session: AsyncSession, withdrawal: Withdrawal, memo: str) -> None:
    await ledger.post(session, user_id=withdrawal.user_id, kind=LedgerKind.WITHDRAWAL_RETURNED,
                      deltas=ledger.Deltas(available=withdrawal.amount_fen, withdrawing=-withdrawal.amount_fen),
                      idempotency_key=f"withdrawal:{withdrawal.id}:returned", subject_type=SUBJECT,
                      subject_id=withdrawal.id, memo=memo)


async def reject(session: AsyncSession, viewer: Viewer, *, withdrawal_id: int, reason: str | None) -> Withdrawal:
    actor_id = viewer.require(Permission.MANAGE_FINANCE)
    reason = (reason or "").strip()
    if not reason:
        raise ServiceError(ErrorCode.REQUIRED, "Say why the withdrawal is rejected.", "reason")
    withdrawal = await _locked(session, withdrawal_id)
    _require_status(withdrawal, WithdrawalStatus.REQUESTED)
    await _return_money(session, withdrawal, "withdrawal rejected")
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
    await _notify(session, withdrawal)
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


async def _notify(session: AsyncSession, withdrawal: Withdrawal) -> None:
    """A live event in the same transaction, to the owner and MANAGE_FINANCE staff (the ledger
    announces the wallet's own change). Payloads carry no account numbers."""
    await outbox.emit(session, event_type=outbox.WITHDRAWAL_UPDATED, subject_type=SUBJECT,
                      subject_id=withdrawal.id, audience_user_ids=[withdrawal.user_id],
                      staff_permission=Permission.MANAGE_FINANCE,
                      payload={"status": withdrawal.status.value, "amountFen": withdrawal.amount_fen,
                               "feeFen": withdrawal.fee_fen, "netFen": withdrawal.net_fen,
                               "method": withdrawal.method.value})


# ---------------------------------------------------------------- reading

@dataclass
class WithdrawalFilter:
    status: WithdrawalStatus | None = None
    method: PayoutMethod | None = None
    user_id: int | None = None
    created_from: datetime | None = None
    created_before: datetime | None = None


def _filtered(stmt, flt: WithdrawalFilter):
    if flt.status is not None:
        stmt = stmt.where(Withdrawal.status == flt.status)
    if flt.method is not None:
        stmt = stmt.where(Withdrawal.method == flt.method)
    if flt.user_id is not None:
        stmt = stmt.where(Withdrawal.user_id == flt.user_id)
    if flt.created_from is not None:
        stmt = stmt.where(Withdrawal.created_at >= flt.created_from)
    if flt.created_before is not None:
        stmt = stmt.where(Withdrawal.created_at < flt.created_before)
    return stmt


async def list_withdrawals(session: AsyncSession, viewer: Viewer, flt: WithdrawalFilter, *,
                           first: int | None, after: str | None) -> Page:
    """Every withdrawal, newest first: MANAGE_FINANCE (and VIEW_REPORTS, numbers masked)."""
    viewer.require_user()
    if not can_read_all(viewer):
        raise PermissionDenied("Withdrawals need MANAGE_FINANCE or VIEW_REPORTS.")
    return await paginate(session, _filtered(select(Withdrawal), flt), [SortKey(Withdrawal.id, descending=True)],
                          first=first, after=after)


async def my_withdrawals(session: AsyncSession, viewer: Viewer, *, status: WithdrawalStatus | None,
                         first: int | None, after: str | None) -> Page:
    user_id = viewer.require_user()
    stmt = _filtered(select(Withdrawal), WithdrawalFilter(status=status, user_id=user_id))
    return await paginate(session, stmt, [SortKey(Withdrawal.id, descending=True)], first=first, after=after)


async def visible_withdrawal(session: AsyncSession, viewer: Viewer, withdrawal_id: int) -> Withdrawal | None:
    if viewer.user_id is None:
        return None
    withdrawal = await session.get(Withdrawal, withdrawal_id)
    if withdrawal is None or not (withdrawal.user_id == viewer.user_id or can_read_all(viewer)):
        return None
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
    count, total = await _used_today(session, user_id, utcnow())
    return Overview(available_fen=wallet.available_fen if wallet else 0,
                    withdrawing_fen=wallet.withdrawing_fen if wallet else 0,
                    withdrawn_fen=wallet.withdrawn_fen if wallet else 0,
                    debt_fen=wallet.debt_fen if wallet else 0,
                    today_count=count, today_amount_fen=total, rules=await get_settings(session))


# ---------------------------------------------------------------- reconciliation and export

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


def _expected_ledger(w: Withdrawal) -> dict[str, int]:
    """The net bucket movement a withdrawal in its state must have left in the ledger."""
    if w.status == WithdrawalStatus.PAID:
        return {"available": -w.amount_fen, "withdrawing": 0, "withdrawn": w.amount_fen}
    if w.status in (WithdrawalStatus.FAILED, WithdrawalStatus.REJECTED):
        return {"available": 0, "withdrawing": 0, "withdrawn": 0}
    return {"available": -w.amount_fen, "withdrawing": w.amount_fen, "withdrawn": 0}


def _check_period(start: datetime, end: datetime) -> None:
    if start >= end:
        raise ServiceError(ErrorCode.INVALID, "The period must start before it ends.", "from")
    if end - start > timedelta(days=366):
        raise ServiceError(ErrorCode.INVALID, "A period is at most a year.", "to")


async def reconcile(session: AsyncSession, viewer: Viewer, *, start: datetime, end: datetime) -> Reconciliation:
    """Finance's view of a period [start, end): amounts requested (by request time), paid
    (by payment time, with fees), failed, rejected and in flight, plus every withdrawal of the
    period whose ledger entries or provider answers disagree with its state."""
    viewer.require(Permission.MANAGE_FINANCE)
    _check_period(start, end)
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
    ids = [w.id for w in rows]
    sums: dict[int, dict[str, int]] = {}
    results: dict[int, set[PayoutResultStatus]] = {}
    for chunk in (ids[i:i + 500] for i in range(0, len(ids), 500)):
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
            results.setdefault(withdrawal_id, set()).add(status)
    for w in rows:
        actual = sums.get(w.id, {"available": 0, "withdrawing": 0, "withdrawn": 0})
        expected = _expected_ledger(w)
        if actual != expected:
            report.mismatches.append(Mismatch(w, "LEDGER", f"Status {w.status.value} expects ledger movements "
                                                           f"{expected}, the ledger has {actual}."))
        answers = results.get(w.id, set())
        if PayoutResultStatus.PAID in answers and w.status != WithdrawalStatus.PAID:
            report.mismatches.append(Mismatch(w, "PROVIDER_PAID", f"The provider reported it paid, "
                                                                  f"but it is {w.status.value}."))
        if PayoutResultStatus.FAILED in answers and w.status != WithdrawalStatus.FAILED:
            report.mismatches.append(Mismatch(w, "PROVIDER_FAILED", f"The provider reported it failed, "
                                                                    f"but it is {w.status.value}."))
        if w.status == WithdrawalStatus.PAID and PayoutResultStatus.PAID not in answers:
            report.mismatches.append(Mismatch(w, "UNCONFIRMED", "Paid in the ledger without a provider "
                                                                "confirmation."))
    return report


CSV_COLUMNS = ("id", "requested_at", "user_id", "method", "holder_name", "account", "bank", "amount", "fee",
               "net", "status", "reviewed_at", "paid_at", "failed_at", "reason", "provider_reference")


def _cell(value) -> str:
    text = "" if value is None else value.isoformat() if isinstance(value, datetime) else str(value)
    # No spreadsheet formulas from user-controlled text.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


async def export_csv(session: AsyncSession, viewer: Viewer, *, start: datetime, end: datetime,
                     status: WithdrawalStatus | None) -> str:
    """The period's withdrawals (by request time) as CSV, for MANAGE_FINANCE; numbers masked."""
    viewer.require(Permission.MANAGE_FINANCE)
    _check_period(start, end)
    stmt = _filtered(select(Withdrawal), WithdrawalFilter(status=status, created_from=start, created_before=end))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for w in (await session.scalars(stmt.order_by(Withdrawal.id))).all():
        writer.writerow([_cell(v) for v in (
            w.id, w.created_at, w.user_id, w.method.value, w.holder_name, w.number_masked,
            " ".join(filter(None, (w.bank_name, w.branch_name))), format_money(w.amount_fen),
            format_money(w.fee_fen), format_money(w.net_fen), w.status.value, w.reviewed_at, w.paid_at,
            w.failed_at, w.reject_reason or w.failure_reason, w.provider_reference)])
    return out.getvalue()
