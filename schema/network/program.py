"""The distributor program's configuration and the input that changes it."""

from __future__ import annotations

from datetime import datetime

import strawberry

from core.ids import encode_global_id
from models import network as m
from schema.base import UserError
from schema.network.enums import BindingMode, ConditionMode, JoinMode
from schema.scalars import Money


def _threshold_product_id(root) -> strawberry.ID | None:
    if root.threshold_product_id is None:
        return None
    return strawberry.ID(encode_global_id("Product", root.threshold_product_id))


@strawberry.type
class FormField:
    key: str
    label: str
    required: bool


@strawberry.type(description="The distributor program's configuration.")
class DistributorProgram:
    join_mode: JoinMode
    require_real_name: bool
    agreement_text: str
    agreement_version: str
    binding_mode: BindingMode
    protection_days: int | None = strawberry.field(description="Days a binding is protected; null: permanent.")
    self_purchase_commission: bool
    commission_depth: int = strawberry.field(description="Commission tiers, 1 to 3.")
    threshold_orders: int | None
    threshold_product_id: strawberry.ID | None = strawberry.field(resolver=_threshold_product_id)
    threshold_mode: ConditionMode
    updated_at: datetime

    @strawberry.field
    def form_fields(self) -> list[FormField]:
        return [FormField(key=f["key"], label=f.get("label") or f["key"], required=bool(f.get("required")))
                for f in self.form_fields]

    @strawberry.field(description="Completed purchases a customer needs in purchase-threshold mode.")
    def threshold_sales(self) -> Money | None:
        return self.threshold_sales_fen

    @classmethod
    def is_type_of(cls, obj, _info) -> bool:
        return isinstance(obj, (cls, m.Program))


@strawberry.input
class FormFieldInput:
    key: str
    label: str
    required: bool = False


@strawberry.input(description="Only the fields given change.")
class DistributorProgramInput:
    join_mode: JoinMode | None = strawberry.UNSET
    form_fields: list[FormFieldInput] | None = strawberry.UNSET
    require_real_name: bool | None = strawberry.UNSET
    agreement_text: str | None = strawberry.UNSET
    agreement_version: str | None = strawberry.UNSET
    binding_mode: BindingMode | None = strawberry.UNSET
    protection_days: int | None = strawberry.field(default=strawberry.UNSET,
                                                   description="null: bindings never expire.")
    self_purchase_commission: bool | None = strawberry.UNSET
    commission_depth: int | None = strawberry.field(default=strawberry.UNSET, description="1, 2 or 3.")
    threshold_sales: Money | None = strawberry.UNSET
    threshold_orders: int | None = strawberry.UNSET
    threshold_product_id: strawberry.ID | None = strawberry.UNSET
    threshold_mode: ConditionMode | None = strawberry.UNSET


@strawberry.type
class DistributorProgramPayload:
    program: DistributorProgram | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)
