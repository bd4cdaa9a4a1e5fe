"""The catalog's objects: suppliers, categories, products, SKUs with their purchase prices and
commission overrides, and the record of stock changes."""

from __future__ import annotations

from datetime import datetime

import strawberry

from core.ids import encode_global_id
from loaders.account import UserByIdLoader
from loaders.catalog import (
    AllowedGradeIdsByProductIdLoader,
    AllowedRegionIdsByProductIdLoader,
    CategoryByIdLoader,
    CommissionRulesByProductIdLoader,
    EffectivePriceBySkuIdLoader,
    ProductByIdLoader,
    PurchasePricesBySkuIdLoader,
    SkusByProductIdLoader,
    SupplierByIdLoader,
    viewer_sees_bands,
)
from loaders.network import GradeByIdLoader, RegionByIdLoader
from models import catalog as m
from schema.account import User
from schema.base import Node
from schema.network import Grade, Region
from schema.scalars import BasisPoints, Money
from services.catalog.browse import PricedProduct, PricedSku

CommissionMode = strawberry.enum(m.CommissionMode, name="CommissionMode",
                                 description="PERCENT: basis points of the paid amount; FIXED: fen per unit.")


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
        return await CategoryByIdLoader(info.context).load(self.parent_id)

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
        return await GradeByIdLoader(info.context).load(self.grade_id)


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
        return await GradeByIdLoader(info.context).load(self.grade_id)


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
        return await EffectivePriceBySkuIdLoader(info.context).load((self.id, distributor_id))

    @strawberry.field(description="The band's minimum resale price; for staff and active distributors.")
    async def band_min(self, info: strawberry.Info) -> Money | None:
        return self.band_min_fen if await viewer_sees_bands(info.context) else None

    @strawberry.field(description="The band's maximum resale price; for staff and active distributors.")
    async def band_max(self, info: strawberry.Info) -> Money | None:
        return self.band_max_fen if await viewer_sees_bands(info.context) else None

    @strawberry.field(description="Purchase prices (进货价) per grade: every grade's for staff (MANAGE_CATALOG), "
                                  "only their own grade's for a distributor, null for customers.")
    async def purchase_prices(self, info: strawberry.Info) -> list[GradePurchasePrice] | None:
        return await PurchasePricesBySkuIdLoader(info.context).load(self.id)

    @strawberry.field
    async def product(self, info: strawberry.Info) -> Product | None:
        product = await ProductByIdLoader(info.context).load(self.product_id)
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
        return await CategoryByIdLoader(info.context).load(self.category_id)

    @strawberry.field(description="The supplier; staff (MANAGE_CATALOG) only.")
    async def supplier(self, info: strawberry.Info) -> Supplier | None:
        if self.supplier_id is None:
            return None
        return await SupplierByIdLoader(info.context).load(self.supplier_id)

    @strawberry.field
    async def skus(self, info: strawberry.Info) -> list[Sku]:
        skus = await SkusByProductIdLoader(info.context).load(self.id)
        return [PricedSku(s, getattr(self, "distributor_id", None)) for s in skus]

    @strawberry.field(description="Grades allowed to distribute it (empty: all); staff only.")
    async def allowed_grades(self, info: strawberry.Info) -> list[Grade] | None:
        ids = await AllowedGradeIdsByProductIdLoader(info.context).load(self.id)
        if ids is None:
            return None
        grades = await GradeByIdLoader(info.context).load_many(ids)
        return [g for g in grades if g is not None]

    @strawberry.field(description="Regions allowed to distribute it, each covering everything under it "
                                  "(empty: everywhere); staff only.")
    async def allowed_regions(self, info: strawberry.Info) -> list[Region] | None:
        ids = await AllowedRegionIdsByProductIdLoader(info.context).load(self.id)
        if ids is None:
            return None
        regions = await RegionByIdLoader(info.context).load_many(ids)
        return [r for r in regions if r is not None]

    @strawberry.field(description="Commission overrides: every grade's for staff (MANAGE_CATALOG), their own "
                                  "grade's for a distributor, null for customers.")
    async def commission_rules(self, info: strawberry.Info) -> list[ProductCommissionRule] | None:
        return await CommissionRulesByProductIdLoader(info.context).load(self.id)

    @classmethod
    def is_type_of(cls, obj, _info) -> bool:
        return isinstance(obj, (cls, m.Product, PricedProduct))


def _order_global_id(order_id: int | None) -> strawberry.ID | None:
    return None if order_id is None else strawberry.ID(encode_global_id("Order", order_id))


@strawberry.type(description="One change of a SKU's stock: who, why and how much.")
class StockAdjustment(Node):
    delta: int
    stock_after: int
    reason: str
    order_id: strawberry.ID | None = strawberry.field(
        resolver=lambda root: _order_global_id(root.order_id),
        description="The order that reserved or released the stock, if any.")
    created_at: datetime

    @strawberry.field(description="The staff member who adjusted it; null for orders.")
    async def actor(self, info: strawberry.Info) -> User | None:
        if self.actor_id is None:
            return None
        return await UserByIdLoader(info.context).load(self.actor_id)

    @classmethod
    def is_type_of(cls, obj, _info) -> bool:
        return isinstance(obj, (cls, m.StockAdjustment))
