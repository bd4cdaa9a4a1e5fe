"""What distributors sell: their own resale prices, and the products they may distribute with
what they pay and earn per SKU."""

from __future__ import annotations

from datetime import datetime

import strawberry

from loaders.catalog import SkuByIdLoader
from loaders.network import DistributorByIdLoader
from models import catalog as m
from schema.catalog.products import CommissionMode, Product, Sku
from schema.network import Distributor
from schema.scalars import BasisPoints, Money
from services.catalog.bands import in_band
from services.catalog.browse import PricedProduct, PricedSku


@strawberry.type(description="A distributor's own resale price for a SKU.")
class DistributorPrice:
    price: Money = strawberry.field(resolver=lambda root: root.price_fen)
    updated_at: datetime

    @strawberry.field(description="Whether the price lies inside the SKU's current band; a price outside is "
                                  "not used (shoppers pay the list price) until the distributor fixes it.")
    async def in_band(self, info: strawberry.Info) -> bool:
        sku = await SkuByIdLoader(info.context).load(self.sku_id)
        return sku is not None and in_band(self.price_fen, sku)

    @strawberry.field
    async def sku(self, info: strawberry.Info) -> Sku | None:
        return await SkuByIdLoader(info.context).load(self.sku_id)

    @strawberry.field
    async def distributor(self, info: strawberry.Info) -> Distributor | None:
        return await DistributorByIdLoader(info.context).load(self.distributor_id)

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
