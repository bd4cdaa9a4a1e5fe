"""Commission records, the rules that govern them, and settlement statements."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, BigId, IdMixin, TimestampMixin, UTCDateTime, enum_column



class CommissionKind(enum.Enum):
    TIER = "TIER"
    REGION = "REGION"
    PARTNER_BONUS = "PARTNER_BONUS"


class CommissionRule(enum.Enum):
    GRADE_RATE = "GRADE_RATE"
    PRODUCT_PERCENT = "PRODUCT_PERCENT"
    PRODUCT_FIXED = "PRODUCT_FIXED"
    REGION_RATE = "REGION_RATE"
    PARTNER_BONUS = "PARTNER_BONUS"


class CommissionStatus(enum.Enum):
    FROZEN = "FROZEN"
    SETTLED = "SETTLED"
    REVERSED = "REVERSED"


class SettlementMode(enum.Enum):
    AUTOMATIC = "AUTOMATIC"   # each record settles by itself once its window closes
    PERIODIC = "PERIODIC"     # records settle in a monthly batch with a statement


class CommissionSettings(Base):
    """One row: the merchant's commission and order timing rules."""

    __tablename__ = "commission_settings"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    cap_bps: Mapped[int] = mapped_column(Integer, default=5000, nullable=False)
    after_sale_days: Mapped[int] = mapped_column(Integer, default=7, nullable=False)
    settlement_mode: Mapped[SettlementMode] = mapped_column(enum_column(SettlementMode), default=SettlementMode.AUTOMATIC,
                                                            nullable=False)
    unpaid_expiry_minutes: Mapped[int] = mapped_column(Integer, default=30, nullable=False)
    auto_complete_days: Mapped[int] = mapped_column(Integer, default=10, nullable=False)
    region_commission: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)


class CommissionRecord(IdMixin, TimestampMixin, Base):
    __tablename__ = "commission_records"
    __table_args__ = (
        UniqueConstraint("order_item_id", "kind", "tier", "beneficiary_user_id"),
        Index("ix_commission_records_beneficiary", "beneficiary_user_id", "id"),
        Index("ix_commission_records_status_order", "status", "order_id"),
    )

    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), nullable=False)
    order_item_id: Mapped[int] = mapped_column(ForeignKey("order_items.id", ondelete="CASCADE"), nullable=False)
    beneficiary_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), nullable=False)
    beneficiary_distributor_id: Mapped[int] = mapped_column(ForeignKey("distributors.id"), nullable=False)
    kind: Mapped[CommissionKind] = mapped_column(enum_column(CommissionKind), nullable=False)
    tier: Mapped[int] = mapped_column(Integer, nullable=False)  # 1-3 for TIER; 0 otherwise
    rule: Mapped[CommissionRule] = mapped_column(enum_column(CommissionRule), nullable=False)
    grade_id: Mapped[int | None] = mapped_column(BigId)
    rate_bps: Mapped[int | None] = mapped_column(Integer)
    fixed_per_unit_fen: Mapped[int | None] = mapped_column(BigId)
    quantity: Mapped[int] = mapped_column(Integer, nullable=False)
    base_fen: Mapped[int] = mapped_column(BigId, nullable=False)          # the item's paid amount at payment
    gross_fen: Mapped[int] = mapped_column(BigId, nullable=False)         # before the cap
    capped_fen: Mapped[int] = mapped_column(BigId, default=0, nullable=False)      # cut by the cap
    shortfall_fen: Mapped[int] = mapped_column(BigId, default=0, nullable=False)   # band shortfall covered
    original_amount_fen: Mapped[int] = mapped_column(BigId, nullable=False)
    amount_fen: Mapped[int] = mapped_column(BigId, nullable=False)        # now, after refunds
    status: Mapped[CommissionStatus] = mapped_column(enum_column(CommissionStatus), nullable=False)
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    statement_id: Mapped[int | None] = mapped_column(ForeignKey("settlement_statements.id"))


class SettlementStatement(IdMixin, TimestampMixin, Base):
    __tablename__ = "settlement_statements"
    __table_args__ = (UniqueConstraint("user_id", "period"),)

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), nullable=False)
    period: Mapped[str] = mapped_column(String(16), nullable=False)  # "2026-11"
    record_count: Mapped[int] = mapped_column(Integer, nullable=False)
    total_fen: Mapped[int] = mapped_column(BigId, nullable=False)
