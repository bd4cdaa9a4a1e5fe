"""Inputs and payloads of the catalog's mutations."""

from __future__ import annotations

import strawberry

from schema.base import UserError
from schema.catalog.offers import DistributorPrice
from schema.catalog.products import Category, CommissionMode, Product, Sku, StockAdjustment, Supplier
from schema.scalars import BasisPoints, Money


@strawberry.input
class SupplierInput:
    name: str | None = None
    contact: str | None = None


@strawberry.type
class SupplierPayload:
    supplier: Supplier | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class CategoryInput:
    name: str | None = None
    parent_id: strawberry.ID | None = None
    sort_order: int | None = None


@strawberry.type
class CategoryPayload:
    category: Category | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class SkuAttributeInput:
    name: str
    value: str


@strawberry.input
class SkuInput:
    code: str | None = strawberry.UNSET
    attributes: list[SkuAttributeInput] | None = strawberry.UNSET
    price: Money | None = strawberry.field(default=strawberry.UNSET, description="The list price.")
    stock: int | None = strawberry.field(default=strawberry.UNSET, description="Initial stock (create only).")
    band_min: Money | None = strawberry.field(default=strawberry.UNSET, description="Create only; then skuBandUpdate.")
    band_max: Money | None = strawberry.field(default=strawberry.UNSET, description="Create only; then skuBandUpdate.")


@strawberry.input
class ProductInput:
    title: str | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    supplier_id: strawberry.ID | None = strawberry.UNSET
    category_id: strawberry.ID | None = strawberry.UNSET
    image_urls: list[str] | None = strawberry.UNSET
    on_shelf: bool | None = strawberry.UNSET
    distributable: bool | None = strawberry.UNSET
    skus: list[SkuInput] | None = strawberry.field(default=strawberry.UNSET, description="Create only.")


@strawberry.type
class ProductPayload:
    product: Product | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class SkuPayload:
    sku: Sku | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class ProductDistributionInput:
    product_id: strawberry.ID
    distributable: bool
    grade_ids: list[strawberry.ID] = strawberry.field(default_factory=list, description="Empty: every grade.")
    region_codes: list[str] = strawberry.field(default_factory=list,
                                               description="Empty: everywhere. A province covers its cities "
                                                           "and districts.")


@strawberry.input
class GradePurchasePriceInput:
    grade_id: strawberry.ID
    price: Money | None = strawberry.field(description="Null removes the grade's purchase price.")


@strawberry.input
class SkuPurchasePricesInput:
    sku_id: strawberry.ID
    prices: list[GradePurchasePriceInput]


@strawberry.input
class CommissionRuleInput:
    grade_id: strawberry.ID
    tier: int
    mode: CommissionMode
    rate: BasisPoints | None = strawberry.field(default=None, description="For PERCENT.")
    fixed_amount: Money | None = strawberry.field(default=None, description="For FIXED: per unit.")


@strawberry.input
class ProductCommissionRulesInput:
    product_id: strawberry.ID
    rules: list[CommissionRuleInput] = strawberry.field(description="Replaces every rule of the product.")


@strawberry.input
class SkuBandInput:
    sku_id: strawberry.ID
    band_min: Money | None = strawberry.field(description="Both ends, or neither (no band: list price only).")
    band_max: Money | None


@strawberry.type
class SkuBandPayload:
    sku: Sku | None = None
    stranded_prices: list[DistributorPrice] = strawberry.field(
        default_factory=list, description="Distributor prices now outside the band: not used until fixed.")
    warnings: list[UserError] = strawberry.field(default_factory=list,
                                                 description="BAND_STRANDS_PRICES when prices were stranded.")
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class DistributorPriceInput:
    sku_id: strawberry.ID
    price: Money


@strawberry.type
class DistributorPricePayload:
    distributor_price: DistributorPrice | None = None
    cleared: bool = False
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class StockAdjustInput:
    sku_id: strawberry.ID
    delta: int = strawberry.field(description="Positive to add, negative to remove; stock never goes below zero.")
    reason: str


@strawberry.type
class StockAdjustPayload:
    sku: Sku | None = None
    adjustment: StockAdjustment | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)
