"""The catalog: suppliers, categories, products, SKUs, distribution rules, price bands, stock, and
what a distributor may sell and earn."""

from __future__ import annotations

from datetime import datetime

import strawberry

from auth.permissions import Permission
from models import catalog as m
from schema.account import User
from schema.base import Node, UserError
from schema.network import Distributor, Grade, Region
from schema.scalars import BasisPoints, Money

CommissionMode = strawberry.enum(m.CommissionMode, name="CommissionMode",
                                 description="PERCENT: basis points of the paid amount; FIXED: fen per unit.")


def _loaders():
    from resolvers import catalog as loaders

    return loaders


def _is_catalog_staff(info: strawberry.Info) -> bool:
    return info.context.viewer.has(Permission.MANAGE_CATALOG)


class Priced:
    """A product or SKU seen at one distributor's prices (distributor_id None: list prices)."""

    def __init__(self, obj, distributor_id: int | None) -> None:
        self.obj = obj
        self.distributor_id = distributor_id

    def __getattr__(self, name):
        return getattr(self.obj, name)


class PricedProduct(Priced):
    pass


class PricedSku(Priced):
    pass


@strawberry.type(description="A supplier. Staff (MANAGE_CATALOG) only.")
class Supplier(Node):
    name: str
    contact: str
    created_at: datetime

    @classmethod
    def is_type_of(cls, obj, _info) -> bool:
        return isinstance(obj, (cls, m.Supplier))


@strawberry.type(description="A product category; categories have two levels.")
class Category(Node):
    name: str
    sort_order: int

    @strawberry.field
    async def parent(self, info: strawberry.Info) -> Category | None:
        if self.parent_id is None:
            return None
        return await info.context.loader("CategoryByIdLoader", _loaders().category_by_id_loader).load(self.parent_id)

    @classmethod
    def is_type_of(cls, obj, _info) -> bool:
        return isinstance(obj, (cls, m.Category))


@strawberry.type(description="One attribute of a SKU, such as size or colour.")
class SkuAttribute:
    name: str
    value: str


@strawberry.type(description="A grade's purchase price (进货价) for a SKU.")
class GradePurchasePrice:
    purchase_price: Money = strawberry.field(resolver=lambda root: root.purchase_price_fen)

    @strawberry.field
    async def grade(self, info: strawberry.Info) -> Grade | None:
        return await info.context.loader("GradeByIdLoader", _loaders().grade_by_id_loader).load(self.grade_id)


@strawberry.type(description="A product's commission for a grade and tier, overriding the grade's default rate.")
class ProductCommissionRule:
    tier: int
    mode: CommissionMode

    @strawberry.field(description="For PERCENT rules: the rate of the paid amount.")
    def rate(self) -> BasisPoints | None:
        return self.value if self.mode == m.CommissionMode.PERCENT else None

    @strawberry.field(description="For FIXED rules: the amount per unit.")
    def fixed_amount(self) -> Money | None:
        return self.value if self.mode == m.CommissionMode.FIXED else None

    @strawberry.field
    async def grade(self, info: strawberry.Info) -> Grade | None:
        return await info.context.loader("GradeByIdLoader", _loaders().grade_by_id_loader).load(self.grade_id)


@strawberry.type(description="A sellable variant of a product with its own price and stock.")
class Sku(Node):
    code: str
    stock: int

    @strawberry.field(description="Size, colour and other attributes.")
    def attributes(self) -> list[SkuAttribute]:
        return [SkuAttribute(name=k, value=v) for k, v in sorted(self.attributes.items())]

    @strawberry.field(description="The supplier's list price.")
    def list_price(self) -> Money:
        return self.price_fen

    @strawberry.field(description="The price you pay: the resale price of the distributor you arrived through "
                                  "(`via`) or are bound to, when it lies inside the band; else the list price.")
    async def price(self, info: strawberry.Info) -> Money:
        distributor_id = getattr(self, "distributor_id", None)
        if distributor_id is None:
            return self.price_fen
        return await info.context.loader("EffectivePriceLoader", _loaders().effective_price_loader).load(
            (self.id, distributor_id))

    @strawberry.field(description="The band's minimum resale price; for staff and active distributors.")
    async def band_min(self, info: strawberry.Info) -> Money | None:
        return self.band_min_fen if await _loaders().sees_bands(info) else None

    @strawberry.field(description="The band's maximum resale price; for staff and active distributors.")
    async def band_max(self, info: strawberry.Info) -> Money | None:
        return self.band_max_fen if await _loaders().sees_bands(info) else None

    @strawberry.field(description="Purchase prices (进货价) per grade: every grade's for staff (MANAGE_CATALOG), "
                                  "only their own grade's for a distributor, null for customers.")
    async def purchase_prices(self, info: strawberry.Info) -> list[GradePurchasePrice] | None:
        return await _loaders().visible_purchase_prices(info, self.id)

    @strawberry.field
    async def product(self, info: strawberry.Info) -> Product | None:
        product = await info.context.loader("ProductByIdLoader", _loaders().product_by_id_loader).load(self.product_id)
        return None if product is None else PricedProduct(product, getattr(self, "distributor_id", None))

    @classmethod
    def is_type_of(cls, obj, _info) -> bool:
        return isinstance(obj, (cls, m.Sku, PricedSku))


@strawberry.type(description="A product. Customers see on-shelf products; staff (MANAGE_CATALOG) see all.")
class Product(Node):
    title: str
    description: str
    image_urls: list[str]
    on_shelf: bool
    distributable: bool
    created_at: datetime
    updated_at: datetime | None

    @strawberry.field
    async def category(self, info: strawberry.Info) -> Category | None:
        if self.category_id is None:
            return None
        return await info.context.loader("CategoryByIdLoader", _loaders().category_by_id_loader).load(
            self.category_id)

    @strawberry.field(description="The supplier; staff (MANAGE_CATALOG) only.")
    async def supplier(self, info: strawberry.Info) -> Supplier | None:
        if self.supplier_id is None or not _is_catalog_staff(info):
            return None
        return await info.context.loader("SupplierByIdLoader", _loaders().supplier_by_id_loader).load(
            self.supplier_id)

    @strawberry.field
    async def skus(self, info: strawberry.Info) -> list[Sku]:
        skus = await info.context.loader("SkusByProductIdLoader", _loaders().skus_by_product_id_loader).load(self.id)
        return [PricedSku(s, getattr(self, "distributor_id", None)) for s in skus]

    @strawberry.field(description="Grades allowed to distribute it (empty: all); staff only.")
    async def allowed_grades(self, info: strawberry.Info) -> list[Grade] | None:
        if not _is_catalog_staff(info):
            return None
        ids = await info.context.loader("AllowedGradesLoader", _loaders().allowed_grades_loader).load(self.id)
        grades = await info.context.loader("GradeByIdLoader", _loaders().grade_by_id_loader).load_many(ids)
        return [g for g in grades if g is not None]

    @strawberry.field(description="Regions allowed to distribute it, each covering everything under it "
                                  "(empty: everywhere); staff only.")
    async def allowed_regions(self, info: strawberry.Info) -> list[Region] | None:
        if not _is_catalog_staff(info):
            return None
        ids = await info.context.loader("AllowedRegionsLoader", _loaders().allowed_regions_loader).load(self.id)
        regions = await info.context.loader("RegionByIdLoader", _loaders().region_by_id_loader).load_many(ids)
        return [r for r in regions if r is not None]

    @strawberry.field(description="Commission overrides: every grade's for staff (MANAGE_CATALOG), their own "
                                  "grade's for a distributor, null for customers.")
    async def commission_rules(self, info: strawberry.Info) -> list[ProductCommissionRule] | None:
        return await _loaders().visible_commission_rules(info, self.id)

    @classmethod
    def is_type_of(cls, obj, _info) -> bool:
        return isinstance(obj, (cls, m.Product, PricedProduct))


@strawberry.type(description="A distributor's own resale price for a SKU.")
class DistributorPrice:
    price: Money = strawberry.field(resolver=lambda root: root.price_fen)
    updated_at: datetime

    @strawberry.field(description="Whether the price lies inside the SKU's current band; a price outside is "
                                  "not used (shoppers pay the list price) until the distributor fixes it.")
    async def in_band(self, info: strawberry.Info) -> bool:
        sku = await info.context.loader("SkuByIdLoader", _loaders().sku_by_id_loader).load(self.sku_id)
        return sku is not None and _loaders().in_band(self.price_fen, sku)

    @strawberry.field
    async def sku(self, info: strawberry.Info) -> Sku | None:
        return await info.context.loader("SkuByIdLoader", _loaders().sku_by_id_loader).load(self.sku_id)

    @strawberry.field
    async def distributor(self, info: strawberry.Info) -> Distributor | None:
        return await info.context.loader("DistributorByIdLoader", _loaders().distributor_by_id_loader).load(
            self.distributor_id)


@strawberry.type(description="One change of a SKU's stock: who, why and how much.")
class StockAdjustment(Node):
    delta: int
    stock_after: int
    reason: str
    order_id: int | None = strawberry.field(description="The order that reserved or released the stock, if any.")
    created_at: datetime

    @strawberry.field(description="The staff member who adjusted it; null for orders.")
    async def actor(self, info: strawberry.Info) -> User | None:
        if self.actor_id is None:
            return None
        return await info.context.loader("UserByIdLoader", _loaders().user_by_id_loader).load(self.actor_id)

    @classmethod
    def is_type_of(cls, obj, _info) -> bool:
        return isinstance(obj, (cls, m.StockAdjustment))


@strawberry.type(description="What one sale earns at a tier: tier 1 when you sell, tiers 2 and 3 when your team "
                             "members one and two levels down sell.")
class TierCommission:
    tier: int
    mode: CommissionMode
    overridden: bool = strawberry.field(description="The product's own rule rather than your grade's default rate.")

    @strawberry.field
    def rate(self) -> BasisPoints | None:
        return self.value if self.mode == m.CommissionMode.PERCENT else None

    @strawberry.field
    def fixed_amount(self) -> Money | None:
        return self.value if self.mode == m.CommissionMode.FIXED else None

    @strawberry.field(description="What one unit sold at `price` earns (before the commission cap).")
    def amount(self) -> Money:
        return self.amount_fen


@strawberry.type(description="A SKU as you distribute it.")
class DistributableSku:
    my_price_in_band: bool = strawberry.field(description="Whether your resale price is set and inside the band.")
    commissions: list[TierCommission]

    @strawberry.field
    def sku(self) -> Sku:
        return PricedSku(self.sku, None)

    @strawberry.field(description="Your purchase price (进货价) at your grade; null when none is set.")
    def purchase_price(self) -> Money | None:
        return self.purchase_price_fen

    @strawberry.field(description="Your resale price, if you set one (even outside the band).")
    def my_price(self) -> Money | None:
        return self.my_price_fen

    @strawberry.field(description="What shoppers through you pay: your price if inside the band, else the list price.")
    def price(self) -> Money:
        return self.price_fen

    @strawberry.field
    def list_price(self) -> Money:
        return self.sku.price_fen

    @strawberry.field
    def band_min(self) -> Money | None:
        return self.sku.band_min_fen

    @strawberry.field
    def band_max(self) -> Money | None:
        return self.sku.band_max_fen


@strawberry.type(description="A product you may distribute, with what you pay and earn per SKU.")
class DistributableProduct:
    skus: list[DistributableSku]

    @strawberry.field
    def product(self) -> Product:
        return PricedProduct(self.product, None)


# ---------------------------------------------------------------- inputs and payloads

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
