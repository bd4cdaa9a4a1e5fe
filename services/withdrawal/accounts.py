"""Payout accounts: a distributor's bank cards, WeChat and Alipay accounts, in their own
verified real name, at most MAX_ACCOUNTS at a time, one of them the default."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from auth.viewer import Viewer
from core.config import Settings
from core.errors import ErrorCode, ServiceError
from models.account import User
from models.base import utcnow
from models.withdrawal import PayoutAccount, PayoutMethod, Withdrawal
from services import audit
from services.withdrawal.access import can_view_account, can_view_account_of
from services.withdrawal.eligibility import verified_identity
from services.withdrawal.masking import encrypt_number, mask_number, normalize_number, number_hash, plain_name

MAX_ACCOUNTS = 10


async def _number_and_holder(session: AsyncSession, user_id: int, method: PayoutMethod, real_name: str, *,
                             holder_name: str | None, account_number: str | None, bank_name: str | None,
                             branch_name: str | None) -> tuple[str, str, str | None, str | None]:
    """(number, holder, bank, branch) of a new account, validated for its method. WeChat pays to
    the openid the user signed in with, so it takes no number."""
    if method == PayoutMethod.WECHAT:
        openid = await session.scalar(select(User.wechat_openid).where(User.id == user_id))
        if not openid:
            raise ServiceError(ErrorCode.WECHAT_NOT_BOUND,
                               "Sign in from the mini-program once to link your WeChat.", "method")
        return openid, (holder_name or "").strip() or real_name, None, None
    number = normalize_number(method, account_number)
    holder = (holder_name or "").strip()
    if not holder:
        raise ServiceError(ErrorCode.REQUIRED, "Enter the account holder's name.", "holderName")
    if method != PayoutMethod.BANK_CARD:
        return number, holder, None, None
    bank_name = (bank_name or "").strip()
    if not bank_name:
        raise ServiceError(ErrorCode.REQUIRED, "Enter the bank.", "bankName")
    return number, holder, bank_name, (branch_name or "").strip() or None


async def add_account(session: AsyncSession, viewer: Viewer, settings: Settings, *, method: PayoutMethod,
                      holder_name: str | None, account_number: str | None, bank_name: str | None,
                      branch_name: str | None, make_default: bool) -> PayoutAccount:
    user_id = viewer.require_user()
    identity = await verified_identity(session, user_id, require_active=False)
    number, holder, bank_name, branch_name = await _number_and_holder(
        session, user_id, method, identity.real_name, holder_name=holder_name, account_number=account_number,
        bank_name=bank_name, branch_name=branch_name)
    if plain_name(holder) != plain_name(identity.real_name):
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
        number_encrypted=encrypt_number(settings, number), number_masked=mask_number(method, number),
        number_hash=digest, is_default=make_default)
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


async def account_to_pay(session: AsyncSession, user_id: int, account_id: int | None) -> PayoutAccount:
    """The account a request pays to: the one named (which must be the user's own, not removed),
    or else the user's default."""
    if account_id is not None:
        account = await session.get(PayoutAccount, account_id)
        if account is None or account.user_id != user_id or account.removed_at is not None:
            raise ServiceError(ErrorCode.NOT_FOUND, "You have no payout account with this id.", "payoutAccountId")
        return account
    account = await session.scalar(select(PayoutAccount).where(
        PayoutAccount.user_id == user_id, PayoutAccount.removed_at.is_(None), PayoutAccount.is_default))
    if account is None:
        raise ServiceError(ErrorCode.NO_PAYOUT_ACCOUNT, "Add a payout account first.", "payoutAccountId")
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


async def visible_accounts_by_ids(session: AsyncSession, viewer: Viewer, ids: list[int]
                                  ) -> dict[int, PayoutAccount]:
    """The accounts among `ids` the viewer may see on their own (e.g. through node(id:))."""
    if viewer.user_id is None:
        return {}
    rows = await session.scalars(select(PayoutAccount).where(PayoutAccount.id.in_(ids)))
    return {a.id: a for a in rows if can_view_account(viewer, a)}


async def visible_accounts_of_withdrawals(session: AsyncSession, viewer: Viewer, withdrawal_ids: list[int]
                                          ) -> dict[int, PayoutAccount]:
    """{withdrawal id: the account it was requested to}, for the withdrawals whose account the
    viewer may see."""
    if viewer.user_id is None:
        return {}
    rows = await session.execute(
        select(Withdrawal.id, Withdrawal.user_id, PayoutAccount)
        .join(PayoutAccount, PayoutAccount.id == Withdrawal.payout_account_id)
        .where(Withdrawal.id.in_(withdrawal_ids)))
    return {wid: account for wid, owner_id, account in rows if can_view_account_of(viewer, owner_id)}
