"""Withdrawals: payout accounts, withdrawal requests, the provider's answers and the settings.

Account numbers are stored encrypted (core.crypto) next to a precomputed masked form for
display and a keyed hash for duplicate detection; a withdrawal keeps a snapshot of the account
it pays to, so removing an account never rewrites history.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, BigId, IdMixin, TimestampMixin, UTCDateTime, enum_column, utcnow



class PayoutMethod(enum.Enum):
    BANK_CARD = "BANK_CARD"
    WECHAT = "WECHAT"
    ALIPAY = "ALIPAY"


class WithdrawalStatus(enum.Enum):
    REQUESTED = "REQUESTED"  # waiting for review
    APPROVED = "APPROVED"    # approved, not yet handed to the provider
    PAYING = "PAYING"        # handed to the provider, waiting for its answer
    PAID = "PAID"
    FAILED = "FAILED"
    REJECTED = "REJECTED"


class PayoutResultStatus(enum.Enum):
    PENDING = "PENDING"
    PAID = "PAID"
    FAILED = "FAILED"


class PayoutAccount(IdMixin, TimestampMixin, Base):
    __tablename__ = "payout_accounts"
    __table_args__ = (Index("ix_payout_accounts_user", "user_id", "id"),)

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    method: Mapped[PayoutMethod] = mapped_column(enum_column(PayoutMethod), nullable=False)
    bank_name: Mapped[str | None] = mapped_column(String(60))
    branch_name: Mapped[str | None] = mapped_column(String(100))
    holder_name: Mapped[str] = mapped_column(String(40), nullable=False)
    number_encrypted: Mapped[str] = mapped_column(String(300), nullable=False)
    number_masked: Mapped[str] = mapped_column(String(80), nullable=False)
    # HMAC of method + number under the field key: finds duplicates without decrypting.
    number_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Withdrawal(IdMixin, TimestampMixin, Base):
    __tablename__ = "withdrawals"
    __table_args__ = (
        UniqueConstraint("user_id", "idempotency_key"),
        Index("ix_withdrawals_user", "user_id", "id"),
        Index("ix_withdrawals_status", "status", "id"),
        Index("ix_withdrawals_created_at", "created_at"),
    )

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    payout_account_id: Mapped[int | None] = mapped_column(ForeignKey("payout_accounts.id", ondelete="SET NULL"))
    # The client's key for retries of one request (unique per user).
    idempotency_key: Mapped[str | None] = mapped_column(String(64))
    method: Mapped[PayoutMethod] = mapped_column(enum_column(PayoutMethod), nullable=False)
    # A snapshot of the payout account at request time.
    bank_name: Mapped[str | None] = mapped_column(String(60))
    branch_name: Mapped[str | None] = mapped_column(String(100))
    holder_name: Mapped[str] = mapped_column(String(40), nullable=False)
    number_encrypted: Mapped[str] = mapped_column(String(300), nullable=False)
    number_masked: Mapped[str] = mapped_column(String(80), nullable=False)
    amount_fen: Mapped[int] = mapped_column(BigId, nullable=False)
    fee_fen: Mapped[int] = mapped_column(BigId, nullable=False)
    net_fen: Mapped[int] = mapped_column(BigId, nullable=False)
    status: Mapped[WithdrawalStatus] = mapped_column(enum_column(WithdrawalStatus), nullable=False)
    expected_arrival_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    auto_approved: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    reviewed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reject_reason: Mapped[str | None] = mapped_column(Text)
    provider: Mapped[str | None] = mapped_column(String(32))
    # Our reference sent to the provider (unique), and the provider's own transaction id.
    provider_reference: Mapped[str | None] = mapped_column(String(64), unique=True)
    provider_transaction_id: Mapped[str | None] = mapped_column(String(64))
    failure_reason: Mapped[str | None] = mapped_column(Text)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)


class PayoutResult(IdMixin, TimestampMixin, Base):
    """Each distinct answer a payout provider gave for a withdrawal (its reply or a callback).

    One row per (withdrawal, status): a replayed callback adds nothing, a contradicting one is
    kept so that reconciliation can show it."""

    __tablename__ = "payout_results"
    __table_args__ = (UniqueConstraint("withdrawal_id", "status"),)

    withdrawal_id: Mapped[int] = mapped_column(ForeignKey("withdrawals.id", ondelete="CASCADE"), nullable=False)
    provider: Mapped[str] = mapped_column(String(32), nullable=False)
    status: Mapped[PayoutResultStatus] = mapped_column(enum_column(PayoutResultStatus), nullable=False)
    transaction_id: Mapped[str | None] = mapped_column(String(64))
    message: Mapped[str | None] = mapped_column(String(200))
    # True when it arrived while the withdrawal could no longer change (a late contradiction).
    ignored: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)


class WithdrawalSettings(Base):
    """The one row (id 1) of withdrawal rules, edited by MANAGE_FINANCE."""

    __tablename__ = "withdrawal_settings"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    min_amount_fen: Mapped[int] = mapped_column(BigId, nullable=False)
    fee_bps: Mapped[int] = mapped_column(Integer, nullable=False)
    fee_min_fen: Mapped[int] = mapped_column(BigId, nullable=False)
    # None: no limit.
    daily_count_limit: Mapped[int | None] = mapped_column(Integer)
    daily_amount_limit_fen: Mapped[int | None] = mapped_column(BigId)
    # Requests below this amount are approved automatically; None: never.
    auto_approve_below_fen: Mapped[int | None] = mapped_column(BigId)
    bank_card_hours: Mapped[int] = mapped_column(Integer, nullable=False)
    bank_card_peak_hours: Mapped[int] = mapped_column(Integer, nullable=False)
    wechat_hours: Mapped[int] = mapped_column(Integer, nullable=False)
    alipay_hours: Mapped[int] = mapped_column(Integer, nullable=False)
    # A peak period (e.g. a shopping festival) when bank transfers take longer.
    peak_starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    peak_ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
