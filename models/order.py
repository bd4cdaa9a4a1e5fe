"""Orders, their items, payments and refunds."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, BigId, IdMixin, TimestampMixin, UTCDateTime, enum_column



class OrderStatus(enum.Enum):
    PENDING_PAYMENT = "PENDING_PAYMENT"
    PAID = "PAID"
    SHIPPED = "SHIPPED"
    COMPLETED = "COMPLETED"
    CANCELLED = "CANCELLED"


class Channel(enum.Enum):
    MINI_PROGRAM = "MINI_PROGRAM"
    APP = "APP"
    H5 = "H5"
    PC = "PC"


class AttributionSource(enum.Enum):
    SHARE_TOKEN = "SHARE_TOKEN"
    BINDING = "BINDING"
    SELF_PURCHASE = "SELF_PURCHASE"
    NONE = "NONE"


class PaymentStatus(enum.Enum):
    PENDING = "PENDING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


class RefundStatus(enum.Enum):
    REQUESTED = "REQUESTED"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"


class Order(IdMixin, TimestampMixin, Base):
    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("buyer_id", "idempotency_key"),
        Index("ix_orders_status_expires", "status", "expires_at"),
        Index("ix_orders_distributor_created", "attributed_distributor_id", "id"),
        Index("ix_orders_buyer_created", "buyer_id", "id"),
    )

    buyer_id: Mapped[int] = mapped_column(ForeignKey("users.id"), nullable=False)
    idempotency_key: Mapped[str | None] = mapped_column(String(64))
    channel: Mapped[Channel] = mapped_column(enum_column(Channel), nullable=False)
    status: Mapped[OrderStatus] = mapped_column(enum_column(OrderStatus), nullable=False)
    attributed_distributor_id: Mapped[int | None] = mapped_column(ForeignKey("distributors.id"))
    attribution_source: Mapped[AttributionSource] = mapped_column(enum_column(AttributionSource), nullable=False)
    share_link_id: Mapped[int | None] = mapped_column(ForeignKey("share_links.id", ondelete="SET NULL"))
    # The attributing distributor's team path when the order was paid: team views and
    # commission follow the tree as it was then, not after later moves.
    attributed_path: Mapped[str | None] = mapped_column(String(1024), index=True)
    province_id: Mapped[int | None] = mapped_column(BigId)
    city_id: Mapped[int | None] = mapped_column(BigId)
    district_id: Mapped[int | None] = mapped_column(BigId, index=True)
    address: Mapped[str] = mapped_column(String(200), default="", nullable=False)
    recipient: Mapped[str] = mapped_column(String(40), default="", nullable=False)
    recipient_phone: Mapped[str] = mapped_column(String(20), default="", nullable=False)
    items_total_fen: Mapped[int] = mapped_column(BigId, nullable=False)
    discount_fen: Mapped[int] = mapped_column(BigId, default=0, nullable=False)
    total_fen: Mapped[int] = mapped_column(BigId, nullable=False)
    refunded_fen: Mapped[int] = mapped_column(BigId, default=0, nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    shipped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    carrier: Mapped[str | None] = mapped_column(String(40))
    tracking_number: Mapped[str | None] = mapped_column(String(64))
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancel_reason: Mapped[str | None] = mapped_column(String(200))


class OrderItem(IdMixin, Base):
    __tablename__ = "order_items"

    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), nullable=False, index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), nullable=False)
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"), nullable=False)
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    quantity: Mapped[int] = mapped_column(Integer, nullable=False)
    list_price_fen: Mapped[int] = mapped_column(BigId, nullable=False)
    unit_price_fen: Mapped[int] = mapped_column(BigId, nullable=False)      # before the distributor discount
    discount_fen: Mapped[int] = mapped_column(BigId, default=0, nullable=False)  # line total, distributor-funded
    paid_fen: Mapped[int] = mapped_column(BigId, nullable=False)            # unit * quantity - discount
    refunded_fen: Mapped[int] = mapped_column(BigId, default=0, nullable=False)
    band_floor_fen: Mapped[int | None] = mapped_column(BigId)
    # What the discounting distributor covers because the discount went below the band floor.
    band_shortfall_fen: Mapped[int] = mapped_column(BigId, default=0, nullable=False)


class Payment(IdMixin, TimestampMixin, Base):
    __tablename__ = "payments"

    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), nullable=False, index=True)
    provider: Mapped[str] = mapped_column(String(24), nullable=False)
    provider_ref: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    amount_fen: Mapped[int] = mapped_column(BigId, nullable=False)
    status: Mapped[PaymentStatus] = mapped_column(enum_column(PaymentStatus), nullable=False)
    callback_count: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Refund(IdMixin, TimestampMixin, Base):
    __tablename__ = "refunds"

    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), nullable=False, index=True)
    order_item_id: Mapped[int] = mapped_column(ForeignKey("order_items.id", ondelete="CASCADE"), nullable=False)
    amount_fen: Mapped[int] = mapped_column(BigId, nullable=False)
    reason: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[RefundStatus] = mapped_column(enum_column(RefundStatus), nullable=False)
    reviewed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    review_note: Mapped[str | None] = mapped_column(Text)
