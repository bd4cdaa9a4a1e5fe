"""Accounts: registration, password and mini-program login, token rotation, staff."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from auth.passwords import hash_password, hash_password_off_loop, needs_rehash, verify_password_off_loop
from auth.permissions import ClientKind, Permission
from auth.tokens import hash_refresh_token, issue_access_token, new_family_id, new_refresh_token
from auth.viewer import Viewer
from auth.wechat import WeChatLoginError, WeChatProvider
from core.config import Settings
from core.errors import ErrorCode, ServiceError
from core.ratelimit import FallbackRateLimiter, MemoryRateLimiter
from models.account import RefreshToken, StaffPermission, User
from models.base import utcnow
from services import audit

PHONE_RE = re.compile(r"^1[3-9]\d{9}$")
MIN_PASSWORD_LENGTH = 8

RateLimiter = MemoryRateLimiter | FallbackRateLimiter


@dataclass(frozen=True)
class IssuedTokens:
    user: User
    access_token: str
    access_expires_at: datetime
    refresh_token: str
    refresh_expires_at: datetime


def normalize_phone(phone: str) -> str:
    phone = re.sub(r"[\s-]", "", phone or "")
    if phone.startswith("+86"):
        phone = phone[3:]
    if not PHONE_RE.match(phone):
        raise ServiceError(ErrorCode.INVALID_PHONE, "Enter an 11-digit mainland mobile number.", "phone")
    return phone


def mask_phone(phone: str | None) -> str | None:
    if not phone:
        return phone
    return phone[:3] + "****" + phone[-4:] if len(phone) >= 7 else "****"


def can_view_user(viewer: Viewer, user_id: int) -> bool:
    """A user is visible as an object to themself and to staff."""
    return viewer.user_id == user_id or viewer.is_staff


def phone_as_seen_by(viewer: Viewer, owner_id: int, phone: str | None, *,
                     signed_in_user_id: int | None = None) -> str | None:
    """The owner and staff see the number; everyone else sees it masked (138****1234).

    `signed_in_user_id` is the account a sign-in mutation of this request just signed into:
    its payload belongs to that user, although the request's viewer is still anonymous."""
    if owner_id in (viewer.user_id, signed_in_user_id) or viewer.is_staff:
        return phone
    return mask_phone(phone)


def check_password_strength(password: str, field: str = "password") -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ServiceError(ErrorCode.WEAK_PASSWORD,
                           f"Use at least {MIN_PASSWORD_LENGTH} characters.", field)
    if password.isdigit() or password.isalpha():
        raise ServiceError(ErrorCode.WEAK_PASSWORD, "Mix letters with digits or symbols.", field)


async def _issue_tokens(session: AsyncSession, settings: Settings, user: User, client: ClientKind,
                        family_id: str | None = None) -> IssuedTokens:
    now = utcnow()
    family_id = family_id or new_family_id()
    refresh_token = new_refresh_token()
    refresh_expires = now + timedelta(seconds=settings.refresh_token_ttl_seconds)
    session.add(RefreshToken(user_id=user.id, family_id=family_id, client=client.value,
                             token_hash=hash_refresh_token(refresh_token), expires_at=refresh_expires))
    access_token, access_expires = issue_access_token(
        settings.secret_key, user_id=user.id, family_id=family_id, client=client,
        now=now, ttl_seconds=settings.access_token_ttl_seconds)
    await session.flush()
    return IssuedTokens(user, access_token, access_expires, refresh_token, refresh_expires)


async def register(session: AsyncSession, settings: Settings, limiter: RateLimiter, *, phone: str, password: str,
                   nickname: str | None, client: ClientKind, ip: str) -> IssuedTokens:
    verdict = await limiter.hit(f"register:ip:{ip}", settings.registrations_per_ip,
                                settings.registration_window_seconds)
    if not verdict.allowed:
        raise ServiceError(ErrorCode.RATE_LIMITED,
                           f"Too many sign-ups from this network; try again in {verdict.retry_after_seconds} seconds.")
    phone = normalize_phone(phone)
    check_password_strength(password)
    if await session.scalar(select(User.id).where(User.phone == phone)) is not None:
        raise ServiceError(ErrorCode.PHONE_TAKEN, "This phone number is already registered; sign in instead.", "phone")
    user = User(phone=phone, password_hash=await hash_password_off_loop(password),
                nickname=(nickname or "").strip()[:64], last_login_at=utcnow())
    session.add(user)
    await session.flush()
    return await _issue_tokens(session, settings, user, client)


async def login(session: AsyncSession, settings: Settings, limiter: RateLimiter, *, phone: str,
                password: str, client: ClientKind, ip: str) -> IssuedTokens:
    """Sign in with a password, under three limits (README, "Sign-in limits"):
    - failures per phone and address together (5 per window): the real owner, signing in from
      elsewhere, is not locked out by someone guessing at their number;
    - failures per address (30): one address cannot guess across many numbers;
    - failures per phone from all addresses (50): the backstop against a guesser spread over
      many addresses; reaching it takes many addresses and a window's worth of attempts.
    Each attempt is counted before the password is checked, so concurrent attempts cannot all
    slip under a limit; a correct password gives its count back and clears its pair's failures.
    """
    invalid = ServiceError(ErrorCode.INVALID_CREDENTIALS, "The phone number or password is wrong.")
    try:
        phone = normalize_phone(phone)
    except ServiceError:
        phone = (phone or "")[:32]
    window = settings.login_window_seconds
    limits = ((f"login:pair:{phone}:{ip}", settings.login_attempts_per_phone),
              (f"login:ip:{ip}", settings.login_attempts_per_ip),
              (f"login:phone:{phone}", settings.login_failures_per_phone_all_ips))
    counted = []
    for key, limit in limits:
        verdict = await limiter.hit(key, limit, window)
        counted.append(key)
        if not verdict.allowed:
            for earlier in counted:
                await limiter.refund(earlier, window)
            raise ServiceError(ErrorCode.RATE_LIMITED,
                               f"Too many sign-in attempts; try again in {verdict.retry_after_seconds} seconds.")
    user = await session.scalar(select(User).where(User.phone == phone))
    if not await verify_password_off_loop(user.password_hash if user else None, password) or user is None:
        raise invalid
    # The owner is here: forget this pair's failures, and give back this attempt's other counts.
    pair_key, *others = counted
    await limiter.reset(pair_key, window)
    for key in others:
        await limiter.refund(key, window)
    if not user.is_active:
        raise ServiceError(ErrorCode.ACCOUNT_DISABLED, "This account has been disabled.")
    if needs_rehash(user.password_hash):
        user.password_hash = await hash_password_off_loop(password)
    user.last_login_at = utcnow()
    return await _issue_tokens(session, settings, user, client)


async def wechat_login(session: AsyncSession, settings: Settings, provider: WeChatProvider, *,
                       code: str, nickname: str | None, client: ClientKind) -> tuple[IssuedTokens, bool]:
    """Sign in (creating the account on first visit) with a mini-program login code."""
    try:
        wechat = await provider.exchange_code(code)
    except WeChatLoginError as exc:
        raise ServiceError(ErrorCode.WECHAT_LOGIN_FAILED, str(exc), "code") from exc
    user = await session.scalar(select(User).where(User.wechat_openid == wechat.openid))
    created = user is None
    if user is None:
        user = User(wechat_openid=wechat.openid, nickname=(nickname or "").strip()[:64])
        session.add(user)
        await session.flush()
    elif not user.is_active:
        raise ServiceError(ErrorCode.ACCOUNT_DISABLED, "This account has been disabled.")
    user.last_login_at = utcnow()
    return await _issue_tokens(session, settings, user, client), created


async def refresh(session: AsyncSession, settings: Settings, *, refresh_token: str) -> IssuedTokens:
    """Rotate a refresh token. Presenting an already rotated token revokes its whole family."""
    now = utcnow()
    stored = await session.scalar(
        select(RefreshToken).where(RefreshToken.token_hash == hash_refresh_token(refresh_token))
        .with_for_update()
    )
    if stored is None or stored.revoked_at is not None and stored.rotated_at is None:
        raise ServiceError(ErrorCode.INVALID_TOKEN, "This refresh token is not valid; sign in again.", "refreshToken")
    if stored.rotated_at is not None:
        await _revoke_family(session, stored.family_id, now)
        raise ServiceError(ErrorCode.TOKEN_REUSED,
                           "This refresh token was already used; every session from that sign-in has been ended.",
                           "refreshToken", keep_changes=True)
    if stored.expires_at <= now:
        raise ServiceError(ErrorCode.TOKEN_EXPIRED, "This refresh token has expired; sign in again.", "refreshToken")
    user = await session.get(User, stored.user_id)
    if user is None or not user.is_active:
        raise ServiceError(ErrorCode.ACCOUNT_DISABLED, "This account has been disabled.")
    # Claim the rotation atomically so that two concurrent refreshes cannot both succeed.
    claimed = await session.execute(
        update(RefreshToken).where(RefreshToken.id == stored.id, RefreshToken.rotated_at.is_(None))
        .values(rotated_at=now)
    )
    if claimed.rowcount != 1:
        await _revoke_family(session, stored.family_id, now)
        raise ServiceError(ErrorCode.TOKEN_REUSED, "This refresh token was already used.", "refreshToken",
                           keep_changes=True)
    return await _issue_tokens(session, settings, user, ClientKind(stored.client), stored.family_id)


async def _revoke_family(session: AsyncSession, family_id: str, now: datetime) -> None:
    await session.execute(
        update(RefreshToken).where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )


async def logout(session: AsyncSession, viewer: Viewer, *, everywhere: bool) -> int:
    """End the viewer's current sign-in, or every sign-in of theirs; returns families ended."""
    user_id = viewer.require_user()
    stmt = update(RefreshToken).where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
    if not everywhere:
        stmt = stmt.where(RefreshToken.family_id == viewer.family_id)
    result = await session.execute(stmt.values(revoked_at=utcnow()))
    return result.rowcount


async def create_staff(session: AsyncSession, *, phone: str, password: str, nickname: str | None,
                       permissions: set[Permission], actor_id: int | None) -> User:
    """Create a staff account, or promote an existing user by phone (the CLI and MANAGE_STAFF)."""
    phone = normalize_phone(phone)
    check_password_strength(password)
    user = await session.scalar(select(User).where(User.phone == phone).options(selectinload(User.permissions)))
    if user is None:
        user = User(phone=phone, nickname=(nickname or "").strip()[:64], permissions=[])
        session.add(user)
    user.password_hash = hash_password(password)
    user.is_staff = True
    await session.flush()
    await set_permissions(session, user, permissions)
    await audit.record(session, actor_id=actor_id, action="staff.create", subject_type="User",
                       subject_id=user.id, details={"permissions": sorted(p.value for p in permissions)})
    return user


async def set_permissions(session: AsyncSession, user: User, permissions: set[Permission]) -> None:
    wanted = {p.value for p in permissions}
    for existing in list(user.permissions):
        if existing.permission not in wanted:
            user.permissions.remove(existing)
    have = {p.permission for p in user.permissions}
    for value in sorted(wanted - have):
        user.permissions.append(StaffPermission(permission=value))
    await session.flush()


async def update_staff_permissions(session: AsyncSession, viewer: Viewer, *, user_id: int,
                                   permissions: set[Permission], reason: str) -> User:
    actor_id = viewer.require(Permission.MANAGE_STAFF)
    if not reason.strip():
        raise ServiceError(ErrorCode.REQUIRED, "Say why the permissions change.", "reason")
    user = await session.scalar(select(User).where(User.id == user_id).options(selectinload(User.permissions)))
    if user is None or not user.is_staff:
        raise ServiceError(ErrorCode.NOT_FOUND, "No staff account has this id.", "userId")
    if user.id == actor_id and Permission.MANAGE_STAFF not in permissions:
        raise ServiceError(ErrorCode.INVALID, "You cannot remove your own MANAGE_STAFF permission.", "permissions")
    before = sorted(p.permission for p in user.permissions)
    await set_permissions(session, user, permissions)
    await audit.record(session, actor_id=actor_id, action="staff.permissions", subject_type="User",
                       subject_id=user.id, reason=reason.strip(),
                       details={"before": before, "after": sorted(p.value for p in permissions)})
    return user


async def users_by_ids(session: AsyncSession, ids: list[int]) -> dict[int, User]:
    rows = await session.scalars(select(User).where(User.id.in_(ids)))
    return {u.id: u for u in rows}


async def get_user_with_permissions(session: AsyncSession, user_id: int) -> User | None:
    return await session.scalar(select(User).where(User.id == user_id).options(selectinload(User.permissions)))
