"""The distributor network: program configuration, applications, distributors and their tree,
grades and grade history, customer bindings, share links and visits, regions and regional agents.

The team tree is stored as parent_id plus a materialized path ("/1/5/9/", ids of the ancestors
and the node itself) and a depth, so a subtree is one indexed range scan on `path`, the
ancestors are one primary-key lookup and per-depth counts are one GROUP BY.
"""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, BigId, IdMixin, TimestampMixin, UTCDateTime, enum_column, utcnow

# Paths compare byte-wise on both databases ("C" collation on PostgreSQL), so a subtree is the
# range [path, path-with-last-"/"-replaced-by-"0").
PathString = String(255).with_variant(String(255, collation="C"), "postgresql")



class JoinMode(enum.Enum):
    DIRECT = "DIRECT"
    APPLY_AUDIT = "APPLY_AUDIT"
    PURCHASE_THRESHOLD = "PURCHASE_THRESHOLD"
    INVITE_ONLY = "INVITE_ONLY"


class BindingMode(enum.Enum):
    FIRST_TOUCH = "FIRST_TOUCH"
    NEW_USERS_ONLY = "NEW_USERS_ONLY"
    LAST_TOUCH = "LAST_TOUCH"


class DistributorStatus(enum.Enum):
    PENDING = "PENDING"
    ACTIVE = "ACTIVE"
    REJECTED = "REJECTED"
    FROZEN = "FROZEN"
    BLACKLISTED = "BLACKLISTED"


class ApplicationStatus(enum.Enum):
    PENDING = "PENDING"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"


class ConditionMode(enum.Enum):
    ANY = "ANY"
    ALL = "ALL"


class GradeChangeKind(enum.Enum):
    INITIAL = "INITIAL"
    AUTO = "AUTO"
    STAFF = "STAFF"


class ShareKind(enum.Enum):
    INVITE_CODE = "INVITE_CODE"
    QR_SCENE = "QR_SCENE"
    SHARE_LINK = "SHARE_LINK"


class RegionLevel(enum.Enum):
    PROVINCE = "PROVINCE"
    CITY = "CITY"
    DISTRICT = "DISTRICT"


class AgentStatus(enum.Enum):
    PENDING = "PENDING"
    ACTIVE = "ACTIVE"
    REJECTED = "REJECTED"
    ENDED = "ENDED"


class Program(Base):
    """The one distributor program of the merchant (row id 1)."""

    __tablename__ = "distributor_programs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    join_mode: Mapped[JoinMode] = mapped_column(enum_column(JoinMode), default=JoinMode.APPLY_AUDIT, nullable=False)
    # [{"key": "wechat", "label": "微信号", "required": true}, ...]
    form_fields: Mapped[list] = mapped_column(JSON, default=list, nullable=False)
    require_real_name: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    agreement_text: Mapped[str] = mapped_column(Text, default="", nullable=False)
    agreement_version: Mapped[str] = mapped_column(String(32), default="1", nullable=False)
    binding_mode: Mapped[BindingMode] = mapped_column(enum_column(BindingMode), default=BindingMode.FIRST_TOUCH,
                                                      nullable=False)
    # None: the binding never expires.
    protection_days: Mapped[int | None] = mapped_column(Integer)
    self_purchase_commission: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    commission_depth: Mapped[int] = mapped_column(Integer, default=2, nullable=False)
    threshold_sales_fen: Mapped[int | None] = mapped_column(BigId)
    threshold_orders: Mapped[int | None] = mapped_column(Integer)
    threshold_product_id: Mapped[int | None] = mapped_column(BigId)
    # Whether meeting any one threshold suffices, or all of them are needed.
    threshold_mode: Mapped[ConditionMode] = mapped_column(enum_column(ConditionMode), default=ConditionMode.ANY,
                                                          nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)


class Grade(IdMixin, TimestampMixin, Base):
    __tablename__ = "grades"

    name: Mapped[str] = mapped_column(String(40), nullable=False)
    level: Mapped[int] = mapped_column(Integer, unique=True, nullable=False)
    tier1_rate_bps: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    tier2_rate_bps: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    tier3_rate_bps: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    discount_bps: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    condition_mode: Mapped[ConditionMode] = mapped_column(enum_column(ConditionMode), default=ConditionMode.ALL,
                                                          nullable=False)
    min_personal_sales_fen: Mapped[int | None] = mapped_column(BigId)
    min_personal_orders: Mapped[int | None] = mapped_column(Integer)
    min_team_sales_fen: Mapped[int | None] = mapped_column(BigId)
    min_team_orders: Mapped[int | None] = mapped_column(Integer)
    min_direct_members: Mapped[int | None] = mapped_column(Integer)
    min_team_size: Mapped[int | None] = mapped_column(Integer)
    is_partner: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    team_bonus_bps: Mapped[int] = mapped_column(Integer, default=0, nullable=False)


class Region(Base):
    """A province, city or district; id is its GB/T 2260 code."""

    __tablename__ = "regions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(String(40), nullable=False)
    level: Mapped[RegionLevel] = mapped_column(enum_column(RegionLevel), nullable=False)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"), index=True)
    path: Mapped[str] = mapped_column(PathString, nullable=False, index=True)


class Distributor(IdMixin, TimestampMixin, Base):
    __tablename__ = "distributors"
    __table_args__ = (Index("ix_distributors_parent_id", "parent_id"),)

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True, nullable=False)
    status: Mapped[DistributorStatus] = mapped_column(enum_column(DistributorStatus), nullable=False)
    grade_id: Mapped[int | None] = mapped_column(ForeignKey("grades.id"))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("distributors.id"))
    # Set once the distributor joins the tree (on activation): "/<root id>/.../<own id>/".
    path: Mapped[str | None] = mapped_column(PathString, unique=True)
    depth: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    invite_code: Mapped[str | None] = mapped_column(String(16), unique=True)
    region_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"), index=True)
    joined_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    status_changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    # Completed sales the distributor brought in (attributed orders), added when an order completes.
    personal_sales_fen: Mapped[int] = mapped_column(BigId, default=0, nullable=False)
    personal_order_count: Mapped[int] = mapped_column(Integer, default=0, nullable=False)


class Application(IdMixin, TimestampMixin, Base):
    __tablename__ = "distributor_applications"
    __table_args__ = (Index("ix_distributor_applications_status", "status", "id"),)

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True)
    distributor_id: Mapped[int] = mapped_column(ForeignKey("distributors.id", ondelete="CASCADE"), nullable=False)
    status: Mapped[ApplicationStatus] = mapped_column(enum_column(ApplicationStatus), nullable=False)
    join_mode: Mapped[JoinMode] = mapped_column(enum_column(JoinMode), nullable=False)
    form_data: Mapped[dict] = mapped_column(JSON, default=dict, nullable=False)
    real_name: Mapped[str | None] = mapped_column(String(40))
    id_card_encrypted: Mapped[str | None] = mapped_column(String(200))
    agreement_version: Mapped[str] = mapped_column(String(32), nullable=False)
    inviter_id: Mapped[int | None] = mapped_column(ForeignKey("distributors.id", ondelete="SET NULL"))
    reject_reason: Mapped[str | None] = mapped_column(Text)
    reviewed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class GradeChange(IdMixin, TimestampMixin, Base):
    __tablename__ = "grade_changes"
    __table_args__ = (Index("ix_grade_changes_distributor", "distributor_id", "id"),)

    distributor_id: Mapped[int] = mapped_column(ForeignKey("distributors.id", ondelete="CASCADE"), nullable=False)
    from_grade_id: Mapped[int | None] = mapped_column(ForeignKey("grades.id"))
    to_grade_id: Mapped[int | None] = mapped_column(ForeignKey("grades.id"))
    kind: Mapped[GradeChangeKind] = mapped_column(enum_column(GradeChangeKind), nullable=False)
    reason: Mapped[str | None] = mapped_column(Text)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class ShareLink(IdMixin, TimestampMixin, Base):
    """A mini-program QR scene value or a share-link token of a distributor."""

    __tablename__ = "share_links"

    distributor_id: Mapped[int] = mapped_column(ForeignKey("distributors.id", ondelete="CASCADE"), nullable=False,
                                                index=True)
    kind: Mapped[ShareKind] = mapped_column(enum_column(ShareKind), nullable=False)
    token: Mapped[str] = mapped_column(String(32), unique=True, nullable=False)
    # The shared product, if any.
    product_id: Mapped[int | None] = mapped_column(BigId)
    visit_count: Mapped[int] = mapped_column(Integer, default=0, nullable=False)


class Visit(IdMixin, TimestampMixin, Base):
    """One arrival through an invite code, QR scene or share link."""

    __tablename__ = "share_visits"
    __table_args__ = (Index("ix_share_visits_distributor", "distributor_id", "id"),)

    distributor_id: Mapped[int] = mapped_column(ForeignKey("distributors.id", ondelete="CASCADE"), nullable=False)
    kind: Mapped[ShareKind] = mapped_column(enum_column(ShareKind), nullable=False)
    share_link_id: Mapped[int | None] = mapped_column(ForeignKey("share_links.id", ondelete="SET NULL"))
    visitor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    outcome: Mapped[str] = mapped_column(String(32), nullable=False)


class CustomerBinding(IdMixin, TimestampMixin, Base):
    """A customer's binding (锁客) to a distributor; one row per customer, released_at when released."""

    __tablename__ = "customer_bindings"
    __table_args__ = (Index("ix_customer_bindings_distributor", "distributor_id"),
                      Index("ix_customer_bindings_expires_at", "expires_at"))

    customer_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True, nullable=False)
    distributor_id: Mapped[int] = mapped_column(ForeignKey("distributors.id", ondelete="CASCADE"), nullable=False)
    source: Mapped[ShareKind] = mapped_column(enum_column(ShareKind), nullable=False)
    share_link_id: Mapped[int | None] = mapped_column(ForeignKey("share_links.id", ondelete="SET NULL"))
    bound_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    # None: protected forever (or, in last-touch mode, until the next arrival).
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    release_reason: Mapped[str | None] = mapped_column(String(32))


class CustomerStats(Base):
    """A customer's completed purchases, added when an order completes; read by purchase-threshold
    joining."""

    __tablename__ = "customer_stats"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    completed_sales_fen: Mapped[int] = mapped_column(BigId, default=0, nullable=False)
    completed_orders: Mapped[int] = mapped_column(Integer, default=0, nullable=False)


class CustomerPurchasedProduct(Base):
    __tablename__ = "customer_purchased_products"
    __table_args__ = (UniqueConstraint("user_id", "product_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    product_id: Mapped[int] = mapped_column(BigId, nullable=False)


class RegionalAgent(IdMixin, TimestampMixin, Base):
    """A distributor's application for, or term as, the agent (区域代理) of one region."""

    __tablename__ = "regional_agents"
    __table_args__ = (Index("ix_regional_agents_distributor", "distributor_id"),
                      Index("ix_regional_agents_region", "region_id", "status"))

    distributor_id: Mapped[int] = mapped_column(ForeignKey("distributors.id", ondelete="CASCADE"), nullable=False)
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"), nullable=False)
    status: Mapped[AgentStatus] = mapped_column(enum_column(AgentStatus), nullable=False)
    # Equals region_id while ACTIVE, NULL otherwise: the unique index allows one active agent per region.
    active_region_id: Mapped[int | None] = mapped_column(BigId, unique=True)
    rate_bps: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    starts_on: Mapped[date | None] = mapped_column(Date)
    ends_on: Mapped[date | None] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(Text)
    reviewed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
