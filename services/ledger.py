"""The wallet ledger: the only way balances change.

Every change locks the wallet row, checks its idempotency key, appends one immutable entry
and applies the same deltas to the balances, all in the caller's transaction. A key seen
before returns the earlier entry and changes nothing, so retried requests, replayed
callbacks and jobs run twice are harmless.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from auth.permissions import Permission
from auth.viewer import Viewer
from core.errors import ErrorCode, PermissionDenied, ServiceError
from core.pagination import SortKey, paginate
from models.base import utcnow
from models.wallet import LedgerEntry, LedgerKind, Wallet
from realtime import outbox

BUCKETS = ("frozen", "available", "withdrawing", "withdrawn", "debt", "credited", "reversed")


@dataclass(frozen=True)
class Deltas:
    frozen: int = 0
    available: int = 0
    withdrawing: int = 0
    withdrawn: int = 0
    debt: int = 0
    credited: int = 0
    reversed: int = 0


async def wallet_for_update(session: AsyncSession, user_id: int) -> Wallet:
    """The user's wallet, created on first use, locked for this transaction."""
    wallet = await session.scalar(select(Wallet).where(Wallet.user_id == user_id).with_for_update())
    if wallet is None:
        # ON CONFLICT DO NOTHING: a concurrent first use may create it at the same moment.
        dialect_insert = postgresql_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
        await session.execute(dialect_insert(Wallet).values(user_id=user_id, created_at=utcnow(),
                                                            **{f"{b}_fen": 0 for b in BUCKETS})
                              .on_conflict_do_nothing(index_elements=["user_id"]))
        wallet = await session.scalar(select(Wallet).where(Wallet.user_id == user_id).with_for_update())
    return wallet


async def post(session: AsyncSession, *, user_id: int, kind: LedgerKind, deltas: Deltas, idempotency_key: str,
               subject_type: str | None = None, subject_id: int | None = None, memo: str = "") -> LedgerEntry:
    wallet = await wallet_for_update(session, user_id)
    existing = await session.scalar(select(LedgerEntry).where(LedgerEntry.idempotency_key == idempotency_key))
    if existing is not None:
        return existing
    for bucket in ("frozen", "available", "withdrawing", "withdrawn", "debt"):
        if getattr(wallet, f"{bucket}_fen") + getattr(deltas, bucket) < 0:
            raise ServiceError(ErrorCode.INSUFFICIENT_FUNDS, f"Not enough in the {bucket} balance.")
    for bucket in BUCKETS:
        setattr(wallet, f"{bucket}_fen", getattr(wallet, f"{bucket}_fen") + getattr(deltas, bucket))
    entry = LedgerEntry(wallet_id=wallet.id, kind=kind, idempotency_key=idempotency_key,
                        subject_type=subject_type, subject_id=subject_id, memo=memo[:200],
                        **{f"{bucket}_delta": getattr(deltas, bucket) for bucket in BUCKETS})
    session.add(entry)
    await session.flush()
    await outbox.emit(session, event_type=outbox.WALLET_UPDATED, subject_type="Wallet", subject_id=wallet.id,
                      audience_user_ids=[user_id],
                      payload={"kind": kind.value, **{f"{b}Fen": getattr(wallet, f"{b}_fen") for b in BUCKETS}})
    return entry


# The operations the domains use; each states which buckets move.

async def credit_frozen(session, *, user_id: int, amount: int, key: str, subject_type: str, subject_id: int,
                        memo: str = "") -> LedgerEntry:
    return await post(session, user_id=user_id, kind=LedgerKind.COMMISSION_FROZEN,
                      deltas=Deltas(frozen=amount, credited=amount), idempotency_key=key,
                      subject_type=subject_type, subject_id=subject_id, memo=memo)


async def reverse_frozen(session, *, user_id: int, amount: int, key: str, subject_type: str, subject_id: int,
                         memo: str = "") -> LedgerEntry:
    return await post(session, user_id=user_id, kind=LedgerKind.COMMISSION_REVERSED,
                      deltas=Deltas(frozen=-amount, reversed=amount), idempotency_key=key,
                      subject_type=subject_type, subject_id=subject_id, memo=memo)


async def settle(session, *, user_id: int, amount: int, key: str, subject_type: str, subject_id: int,
                 memo: str = "") -> LedgerEntry:
    """Frozen -> available; any clawback debt is repaid first."""
    wallet = await wallet_for_update(session, user_id)
    repay = min(wallet.debt_fen, amount)
    return await post(session, user_id=user_id, kind=LedgerKind.COMMISSION_SETTLED,
                      deltas=Deltas(frozen=-amount, available=amount - repay, debt=-repay),
                      idempotency_key=key, subject_type=subject_type, subject_id=subject_id, memo=memo)


async def claw_back(session, *, user_id: int, amount: int, key: str, subject_type: str, subject_id: int,
                    memo: str = "") -> LedgerEntry:
    """Reverse settled commission: from available, and what is not there becomes debt."""
    wallet = await wallet_for_update(session, user_id)
    from_available = min(wallet.available_fen, amount)
    return await post(session, user_id=user_id, kind=LedgerKind.CLAWBACK,
                      deltas=Deltas(available=-from_available, debt=amount - from_available, reversed=amount),
                      idempotency_key=key, subject_type=subject_type, subject_id=subject_id, memo=memo)


async def ledger_sums(session: AsyncSession, wallet_id: int) -> dict[str, int]:
    """The sum of every entry's deltas, per bucket (what the balances must equal)."""
    columns = [func.coalesce(func.sum(getattr(LedgerEntry, f"{b}_delta")), 0) for b in BUCKETS]
    row = (await session.execute(select(*columns).where(LedgerEntry.wallet_id == wallet_id))).one()
    return {bucket: int(value) for bucket, value in zip(BUCKETS, row, strict=True)}


def balances(wallet: Wallet) -> dict[str, int]:
    return {bucket: getattr(wallet, f"{bucket}_fen") for bucket in BUCKETS}


def can_read_wallet(viewer: Viewer, owner_id: int) -> bool:
    """A wallet is its owner's to read, and finance staff's (MANAGE_FINANCE)."""
    return viewer.user_id is not None and (owner_id == viewer.user_id or viewer.has(Permission.MANAGE_FINANCE))


def _empty_wallet(user_id: int) -> Wallet:
    return Wallet(id=0, user_id=user_id, **{f"{b}_fen": 0 for b in BUCKETS})


async def wallet_of(session: AsyncSession, viewer: Viewer, user_id: int | None = None) -> Wallet:
    """The viewer's wallet (finance staff may read anyone's); an empty one if none exists yet."""
    own_id = viewer.require_user()
    target = user_id if user_id is not None else own_id
    if not can_read_wallet(viewer, target):
        raise PermissionDenied("You can only read your own wallet.")
    wallet = await session.scalar(select(Wallet).where(Wallet.user_id == target))
    return wallet if wallet is not None else _empty_wallet(target)


async def visible_wallets_by_ids(session: AsyncSession, viewer: Viewer, ids: list[int]) -> dict[int, Wallet]:
    """The wallets among `ids` the viewer may read (e.g. a wallet event's wallet)."""
    if viewer.user_id is None:
        return {}
    rows = await session.scalars(select(Wallet).where(Wallet.id.in_(ids)))
    return {w.id: w for w in rows if can_read_wallet(viewer, w.user_id)}


async def entries(session: AsyncSession, viewer: Viewer, wallet: Wallet, *, kind: LedgerKind | None,
                  first: int | None, after: str | None):
    """A wallet's ledger, newest first, for whoever may read the wallet."""
    if not can_read_wallet(viewer, wallet.user_id):
        raise PermissionDenied("You can only read your own wallet.")
    stmt = select(LedgerEntry).where(LedgerEntry.wallet_id == wallet.id)
    if kind is not None:
        stmt = stmt.where(LedgerEntry.kind == kind)
    return await paginate(session, stmt, [SortKey(LedgerEntry.id, descending=True)], first=first, after=after)
