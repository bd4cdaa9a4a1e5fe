"""The catalog: suppliers, categories, products and SKUs, distribution rules, price bands, stock.

Which grades and regions may distribute a product are rows of product_grades / product_regions
(none: every grade / every region), so "what may this distributor sell" is one indexed query.
A distributor's resale price is used only while it lies inside its SKU's current band; a band
change that leaves it outside "strands" it (computed, not stored) until the distributor fixes it.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, Boolean, CheckConstraint, Enum, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, BigId, IdMixin, TimestampMixin, UTCDateTime


class CommissionMode(enum.Enum):
    PERCENT = "PERCENT"      # basis points of the item's paid amount
    FIXED = "FIXED"          # fen per unit


class Supplier(IdMixin, TimestampMixin, Base):
    __tablename__ = "suppliers"

    name: Mapped[str] = mapped_column(String(80), nullable=False)
    contact: Mapped[str] = mapped_column(String(80), default="", nullable=False)


class Category(IdMixin, TimestampMixin, Base):
    __tablename__ = "categories"

    name: Mapped[str] = mapped_column(String(40), nullable=False)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id"), index=True)
    sort_order: Mapped[int] = mapped_column(Integer, default=0, nullable=False)


class Product(IdMixin, TimestampMixin, Base):
    __tablename__ = "products"
    __table_args__ = (Index("ix_products_shelf_category", "on_shelf", "category_id", "id"),)

    title: Mapped[str] = mapped_column(String(120), nullable=False)
    description: Mapped[str] = mapped_column(Text, default="", nullable=False)
    supplier_id: Mapped[int | None] = mapped_column(ForeignKey("suppliers.id"))
    category_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id"))
    image_urls: Mapped[list] = mapped_column(JSON, default=list, nullable=False)
    on_shelf: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    distributable: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ProductGrade(Base):
    """A grade allowed to distribute a product; a product without rows allows every grade."""

    __tablename__ = "product_grades"

    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"), primary_key=True)
    grade_id: Mapped[int] = mapped_column(ForeignKey("grades.id", ondelete="CASCADE"), primary_key=True)


class ProductRegion(Base):
    """A region (with everything under it) allowed to distribute a product; none: everywhere."""

    __tablename__ = "product_regions"

    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"), primary_key=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id", ondelete="CASCADE"), primary_key=True)


class Sku(IdMixin, TimestampMixin, Base):
    __tablename__ = "skus"
    __table_args__ = (
        CheckConstraint("stock >= 0", name="stock_not_negative"),
        CheckConstraint("price_fen >= 0", name="price_not_negative"),
        CheckConstraint("band_min_fen IS NULL OR band_max_fen IS NULL OR band_min_fen <= band_max_fen",
                        name="band_ordered"),
    )

    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"), nullable=False, index=True)
    code: Mapped[str] = mapped_column(String(40), unique=True, nullable=False)
    attributes: Mapped[dict] = mapped_column(JSON, default=dict, nullable=False)
    price_fen: Mapped[int] = mapped_column(BigId, nullable=False)
    stock: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    # The supplier's price band (价格带) for distributor resale prices: both set, or neither.
    band_min_fen: Mapped[int | None] = mapped_column(BigId)
    band_max_fen: Mapped[int | None] = mapped_column(BigId)


class SkuGradePrice(Base):
    """The purchase price (进货价) of a SKU for a grade."""

    __tablename__ = "sku_grade_prices"
    __table_args__ = (UniqueConstraint("sku_id", "grade_id"),
                      CheckConstraint("purchase_price_fen >= 0", name="purchase_price_not_negative"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id", ondelete="CASCADE"), nullable=False)
    grade_id: Mapped[int] = mapped_column(ForeignKey("grades.id", ondelete="CASCADE"), nullable=False)
    purchase_price_fen: Mapped[int] = mapped_column(BigId, nullable=False)


class ProductCommissionRule(Base):
    """A product's commission for a grade and tier, overriding the grade's default rate."""

    __tablename__ = "product_commission_rules"
    __table_args__ = (UniqueConstraint("product_id", "grade_id", "tier"),
                      CheckConstraint("tier BETWEEN 1 AND 3", name="tier_range"),
                      CheckConstraint("value >= 0", name="value_not_negative"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"), nullable=False)
    grade_id: Mapped[int] = mapped_column(ForeignKey("grades.id", ondelete="CASCADE"), nullable=False)
    tier: Mapped[int] = mapped_column(Integer, nullable=False)
    mode: Mapped[CommissionMode] = mapped_column(Enum(CommissionMode, native_enum=False, length=16), nullable=False)
    value: Mapped[int] = mapped_column(BigId, nullable=False)  # bps for PERCENT, fen per unit for FIXED


class DistributorSkuPrice(Base):
    """A distributor's own resale price for a SKU, inside the band when set."""

    __tablename__ = "distributor_sku_prices"
    __table_args__ = (UniqueConstraint("distributor_id", "sku_id"),
                      CheckConstraint("price_fen >= 0", name="price_not_negative"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    distributor_id: Mapped[int] = mapped_column(ForeignKey("distributors.id", ondelete="CASCADE"), nullable=False)
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id", ondelete="CASCADE"), nullable=False, index=True)
    price_fen: Mapped[int] = mapped_column(BigId, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class StockAdjustment(IdMixin, TimestampMixin, Base):
    """One change of a SKU's stock: by staff (actor, reason) or by an order (order_id)."""

    __tablename__ = "stock_adjustments"
    __table_args__ = (Index("ix_stock_adjustments_sku", "sku_id", "id"),)

    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id", ondelete="CASCADE"), nullable=False)
    delta: Mapped[int] = mapped_column(Integer, nullable=False)
    stock_after: Mapped[int] = mapped_column(Integer, nullable=False)
    reason: Mapped[str] = mapped_column(String(200), nullable=False)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # Set when an order reserved or released stock.
    order_id: Mapped[int | None] = mapped_column(BigId, index=True)
