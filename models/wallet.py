"""Wallets and their append-only ledger. Balances change only together with a ledger entry."""

from __future__ import annotations

import enum

from sqlalchemy import CheckConstraint, Enum, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, BigId, IdMixin, TimestampMixin


class LedgerKind(enum.Enum):
    COMMISSION_FROZEN = "COMMISSION_FROZEN"          # + frozen
    COMMISSION_REVERSED = "COMMISSION_REVERSED"      # - frozen (refund before settlement)
    COMMISSION_SETTLED = "COMMISSION_SETTLED"        # frozen -> available (repays debt first)
    CLAWBACK = "CLAWBACK"                            # - available, the rest becomes debt
    BAND_SHORTFALL = "BAND_SHORTFALL"                # distributor covers a price below the band floor
    WITHDRAWAL_REQUESTED = "WITHDRAWAL_REQUESTED"    # available -> withdrawing
    WITHDRAWAL_RETURNED = "WITHDRAWAL_RETURNED"      # withdrawing -> available (rejected or failed)
    WITHDRAWAL_PAID = "WITHDRAWAL_PAID"              # withdrawing -> withdrawn


class Wallet(IdMixin, TimestampMixin, Base):
    """One per user who can earn. Invariant (tested): credited - reversed
    = frozen + available + withdrawing + withdrawn - debt."""

    __tablename__ = "wallets"
    __table_args__ = (
        CheckConstraint("frozen_fen >= 0 AND available_fen >= 0 AND withdrawing_fen >= 0 "
                        "AND withdrawn_fen >= 0 AND debt_fen >= 0", name="buckets_not_negative"),
    )

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True, nullable=False)
    frozen_fen: Mapped[int] = mapped_column(BigId, default=0, nullable=False)
    available_fen: Mapped[int] = mapped_column(BigId, default=0, nullable=False)
    withdrawing_fen: Mapped[int] = mapped_column(BigId, default=0, nullable=False)
    withdrawn_fen: Mapped[int] = mapped_column(BigId, default=0, nullable=False)
    debt_fen: Mapped[int] = mapped_column(BigId, default=0, nullable=False)
    credited_fen: Mapped[int] = mapped_column(BigId, default=0, nullable=False)
    reversed_fen: Mapped[int] = mapped_column(BigId, default=0, nullable=False)


class LedgerEntry(IdMixin, TimestampMixin, Base):
    __tablename__ = "ledger_entries"
    __table_args__ = (Index("ix_ledger_entries_wallet_kind", "wallet_id", "kind", "id"),)

    wallet_id: Mapped[int] = mapped_column(ForeignKey("wallets.id", ondelete="CASCADE"), nullable=False)
    kind: Mapped[LedgerKind] = mapped_column(Enum(LedgerKind, native_enum=False, length=32), nullable=False)
    idempotency_key: Mapped[str] = mapped_column(String(120), unique=True, nullable=False)
    # Signed changes to each bucket; their running sums are the wallet's balances.
    frozen_delta: Mapped[int] = mapped_column(BigId, default=0, nullable=False)
    available_delta: Mapped[int] = mapped_column(BigId, default=0, nullable=False)
    withdrawing_delta: Mapped[int] = mapped_column(BigId, default=0, nullable=False)
    withdrawn_delta: Mapped[int] = mapped_column(BigId, default=0, nullable=False)
    debt_delta: Mapped[int] = mapped_column(BigId, default=0, nullable=False)
    credited_delta: Mapped[int] = mapped_column(BigId, default=0, nullable=False)
    reversed_delta: Mapped[int] = mapped_column(BigId, default=0, nullable=False)
    subject_type: Mapped[str | None] = mapped_column(String(40))
    subject_id: Mapped[int | None] = mapped_column(BigId)
    memo: Mapped[str] = mapped_column(String(200), default="", nullable=False)
