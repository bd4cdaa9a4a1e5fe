"""Commission records, settlement statements and the commission settings."""

from __future__ import annotations

from datetime import datetime

import strawberry

# Imported for its effect: it registers the CommissionRecord node fetcher (who may see a record)
# wherever this type is part of the schema.
import loaders.commission  # noqa: F401
from core.ids import encode_global_id
from models import commission as m
from schema.base import Node, UserError
from schema.scalars import BasisPoints, Money

CommissionKind = strawberry.enum(m.CommissionKind, name="CommissionKind")
CommissionRule = strawberry.enum(m.CommissionRule, name="CommissionRule",
                                 description="Which rule set the rate: the grade, a product override, a region, a partner.")
CommissionStatus = strawberry.enum(m.CommissionStatus, name="CommissionStatus")
SettlementMode = strawberry.enum(m.SettlementMode, name="SettlementMode")


@strawberry.type(description="What one beneficiary earns on one order item, and why.")
class CommissionRecord(Node):
    kind: CommissionKind
    tier: int = strawberry.field(description="1-3 for tier commission; 0 for region and partner shares.")
    rule: CommissionRule
    rate: BasisPoints | None = strawberry.field(resolver=lambda root: root.rate_bps)
    fixed_per_unit: Money | None = strawberry.field(resolver=lambda root: root.fixed_per_unit_fen)
    quantity: int
    base: Money = strawberry.field(resolver=lambda root: root.base_fen, description="The item's paid amount.")
    gross: Money = strawberry.field(resolver=lambda root: root.gross_fen, description="Before the cap.")
    capped: Money = strawberry.field(resolver=lambda root: root.capped_fen, description="Cut by the cap.")
    shortfall: Money = strawberry.field(resolver=lambda root: root.shortfall_fen,
                                        description="Band shortfall this distributor covers.")
    original_amount: Money = strawberry.field(resolver=lambda root: root.original_amount_fen)
    amount: Money = strawberry.field(resolver=lambda root: root.amount_fen, description="Now, after refunds.")
    status: CommissionStatus
    created_at: datetime
    settled_at: datetime | None

    @strawberry.field
    def order_id(self) -> strawberry.ID:
        return strawberry.ID(encode_global_id("Order", self.order_id))

    @strawberry.field
    def order_item_id(self) -> strawberry.ID:
        return strawberry.ID(encode_global_id("OrderItem", self.order_item_id))

    @strawberry.field
    def beneficiary_id(self) -> strawberry.ID:
        return strawberry.ID(encode_global_id("Distributor", self.beneficiary_distributor_id))

    @classmethod
    def is_type_of(cls, obj, _info) -> bool:
        return isinstance(obj, (cls, m.CommissionRecord))


@strawberry.type(description="One beneficiary's settled commission for a period.")
class SettlementStatement(Node):
    period: str
    record_count: int
    total: Money = strawberry.field(resolver=lambda root: root.total_fen)
    created_at: datetime

    @classmethod
    def is_type_of(cls, obj, _info) -> bool:
        return isinstance(obj, (cls, m.SettlementStatement))


@strawberry.type
class CommissionSettings:
    cap: BasisPoints = strawberry.field(resolver=lambda root: root.cap_bps,
                                        description="Total commission on an item is at most this share of its paid amount.")
    after_sale_days: int
    settlement_mode: SettlementMode
    unpaid_expiry_minutes: int
    auto_complete_days: int
    region_commission: bool


@strawberry.input
class CommissionSettingsInput:
    cap: BasisPoints | None = None
    after_sale_days: int | None = None
    settlement_mode: SettlementMode | None = None
    unpaid_expiry_minutes: int | None = None
    auto_complete_days: int | None = None
    region_commission: bool | None = None


@strawberry.type
class CommissionSettingsPayload:
    settings: CommissionSettings | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class SettlementRunPayload:
    settled_records: int = 0
    statements: list[SettlementStatement] = strawberry.field(default_factory=list)
    user_errors: list[UserError] = strawberry.field(default_factory=list)
