"""The withdrawal rules finance edits: minimum, fee, daily limits, automatic approval and
expected arrival times; and how a request is measured against them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from auth.permissions import Permission
from auth.viewer import Viewer
from core.errors import ErrorCode, ServiceError
from core.money import format_money, split_bps
from models.base import utcnow
from models.wallet import Wallet
from models.withdrawal import PayoutMethod, Withdrawal, WithdrawalSettings, WithdrawalStatus
from services import audit

SETTINGS_ID = 1
CHINA_TZ = timezone(timedelta(hours=8))  # days (for daily limits) are Beijing calendar days
# Requests that count against the daily limits: everything but those whose money came back.
COUNTED = (WithdrawalStatus.REQUESTED, WithdrawalStatus.APPROVED, WithdrawalStatus.PAYING, WithdrawalStatus.PAID)

SETTINGS_FIELDS = ("min_amount_fen", "fee_bps", "fee_min_fen", "daily_count_limit", "daily_amount_limit_fen",
                   "auto_approve_below_fen", "bank_card_hours", "bank_card_peak_hours", "wechat_hours",
                   "alipay_hours", "peak_starts_at", "peak_ends_at")
_NOT_NULL = {"min_amount_fen", "fee_bps", "fee_min_fen", "bank_card_hours", "bank_card_peak_hours",
             "wechat_hours", "alipay_hours"}
_AT_LEAST_ONE = {"min_amount_fen", "daily_count_limit", "daily_amount_limit_fen"}
MAX_FEE_BPS = 10_000


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


async def settings_for(session: AsyncSession, viewer: Viewer) -> WithdrawalSettings:
    """The rules, for anyone signed in."""
    viewer.require_user()
    return await get_settings(session)


def _plain(value):
    return value.isoformat() if isinstance(value, datetime) else value


def _check_change(key: str, value, api_field: str) -> None:
    if key not in SETTINGS_FIELDS:
        raise ValueError(f"unknown withdrawal setting {key}")
    if value is None and key in _NOT_NULL:
        raise ServiceError(ErrorCode.REQUIRED, "This setting cannot be empty.", api_field)
    if isinstance(value, int) and not isinstance(value, bool):
        smallest = 1 if key in _AT_LEAST_ONE else 0
        if value < smallest:
            raise ServiceError(ErrorCode.INVALID, f"Must be at least {smallest}.", api_field)
        if key == "fee_bps" and value > MAX_FEE_BPS:
            raise ServiceError(ErrorCode.INVALID, "A fee rate is at most 10000 basis points.", api_field)


async def update_settings(session: AsyncSession, viewer: Viewer, changes: dict, *,
                          field_names: dict[str, str] | None = None) -> WithdrawalSettings:
    """Change the withdrawal rules (MANAGE_FINANCE); audited with before and after."""
    actor_id = viewer.require(Permission.MANAGE_FINANCE)
    names = field_names or {}
    for key, value in changes.items():
        _check_change(key, value, names.get(key, key))
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


def auto_approves(rules: WithdrawalSettings, amount_fen: int) -> bool:
    return rules.auto_approve_below_fen is not None and amount_fen < rules.auto_approve_below_fen


def china_day_start(at: datetime) -> datetime:
    local = at.astimezone(CHINA_TZ)
    return local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)


async def used_today(session: AsyncSession, user_id: int, now: datetime) -> tuple[int, int]:
    """(count, amount) of the user's requests today that count against the daily limits."""
    count, total = (await session.execute(
        select(func.count(Withdrawal.id), func.coalesce(func.sum(Withdrawal.amount_fen), 0))
        .where(Withdrawal.user_id == user_id, Withdrawal.created_at >= china_day_start(now),
               Withdrawal.status.in_(COUNTED)))).one()
    return int(count), int(total)


async def check_request(session: AsyncSession, rules: WithdrawalSettings, wallet: Wallet, amount_fen: int,
                        now: datetime) -> tuple[int, int]:
    """Refuse a request the rules do not allow: clawback debt, below the minimum, above the
    available balance, over today's limits, or not covering the fee. Returns (fee, net).

    The caller holds the wallet's lock, so the balance and today's use cannot change meanwhile."""
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
    count, total = await used_today(session, wallet.user_id, now)
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
    return fee, net
