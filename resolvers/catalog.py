"""The catalog: browsing, staff editing, distribution rules, price bands, resale prices, stock,
the distributor's "what may I sell and earn" and the CSV export."""

from __future__ import annotations

import strawberry

from core.errors import ErrorCode, ServiceError
from models.catalog import CommissionMode
from resolvers.base import decode_id, in_savepoint, region_id as _region_id
from schema.base import Connection, UserError
from schema.catalog import (
    Category,
    CategoryInput,
    CategoryPayload,
    DistributableProduct,
    DistributorPrice,
    DistributorPriceInput,
    DistributorPricePayload,
    Product,
    ProductCommissionRulesInput,
    ProductDistributionInput,
    ProductInput,
    ProductPayload,
    SkuBandInput,
    SkuBandPayload,
    SkuInput,
    SkuPayload,
    SkuPurchasePricesInput,
    StockAdjustInput,
    StockAdjustment,
    StockAdjustPayload,
    Supplier,
    SupplierInput,
    SupplierPayload,
)
from services.catalog import admin, bands, browse, distribution, export, lookup, offers, stock


# ---------------------------------------------------------------- input mapping

def _optional_id(value, type_name: str, field: str) -> int | None:
    return None if value is None else decode_id(value, type_name, field)


def _given(input_obj, names: dict[str, str]) -> dict:
    return {target: getattr(input_obj, name) for name, target in names.items()
            if getattr(input_obj, name) is not strawberry.UNSET}


def _product_values(input: ProductInput) -> dict:
    values = _given(input, {"title": "title", "description": "description", "image_urls": "image_urls",
                            "on_shelf": "on_shelf", "distributable": "distributable"})
    if input.supplier_id is not strawberry.UNSET:
        values["supplier_id"] = _optional_id(input.supplier_id, "Supplier", "supplierId")
    if input.category_id is not strawberry.UNSET:
        values["category_id"] = _optional_id(input.category_id, "Category", "categoryId")
    return values


def _sku_values(input: SkuInput) -> dict:
    values = _given(input, {"code": "code", "price": "price_fen", "stock": "stock", "band_min": "band_min_fen",
                            "band_max": "band_max_fen"})
    if input.attributes is not strawberry.UNSET:
        values["attributes"] = {a.name: a.value for a in input.attributes or []}
    return values


@strawberry.type
class CatalogQuery:
    @strawberry.field(description="On-shelf products, newest first, optionally in a category (with its "
                                  "sub-categories) or matching a title search. Prices are those of the "
                                  "distributor you arrived through (`via`: invite code, QR scene or share "
                                  "token) or are bound to. Staff (MANAGE_CATALOG) may include off-shelf ones.")
    async def products(self, info: strawberry.Info, first: int | None = 20, after: str | None = None,
                       category_id: strawberry.ID | None = None, search: str | None = None,
                       via: str | None = None, include_off_shelf: bool = False) -> Connection[Product]:
        page = await browse.browse_products(
            info.context.session, info.context.viewer, first=first, after=after,
            category_id=_optional_id(category_id, "Category", "categoryId"), search=search,
            include_off_shelf=include_off_shelf, via=via)
        return Connection[Product].from_page(page)

    @strawberry.field(description="One product (null when missing or off shelf), priced as in `products`.")
    async def product(self, info: strawberry.Info, id: strawberry.ID, via: str | None = None) -> Product | None:
        return await browse.priced_product(info.context.session, info.context.viewer,
                                           decode_id(id, "Product", "id"), via)

    @strawberry.field(description="Every category, in display order.")
    async def categories(self, info: strawberry.Info) -> list[Category]:
        return await admin.list_categories(info.context.session)

    @strawberry.field(description="Suppliers (MANAGE_CATALOG).")
    async def suppliers(self, info: strawberry.Info, first: int | None = 20, after: str | None = None
                        ) -> Connection[Supplier]:
        page = await admin.list_suppliers(info.context.session, info.context.viewer, first=first, after=after)
        return Connection[Supplier].from_page(page)

    @strawberry.field(description="What you may distribute (an active distributor): on-shelf, distributable "
                                  "products open to your grade and region, each SKU with your purchase price, "
                                  "your resale price, the band and your commission per tier.")
    async def distributable_products(self, info: strawberry.Info, first: int | None = 20,
                                     after: str | None = None) -> Connection[DistributableProduct]:
        _, page = await offers.distributable_products(info.context.session, info.context.viewer,
                                                      first=first, after=after)
        return Connection[DistributableProduct].from_page(page)

    @strawberry.field(description="Distributor prices outside their SKU's current band, not used until fixed "
                                  "(MANAGE_CATALOG).")
    async def stranded_distributor_prices(self, info: strawberry.Info, first: int | None = 20,
                                          after: str | None = None) -> Connection[DistributorPrice]:
        page = await bands.stranded_prices(info.context.session, info.context.viewer, first=first, after=after)
        return Connection[DistributorPrice].from_page(page)

    @strawberry.field(description="A SKU's stock adjustments, newest first (MANAGE_CATALOG).")
    async def stock_adjustments(self, info: strawberry.Info, sku_id: strawberry.ID, first: int | None = 20,
                                after: str | None = None) -> Connection[StockAdjustment]:
        page = await stock.stock_history(info.context.session, info.context.viewer,
                                         decode_id(sku_id, "Sku", "skuId"), first=first, after=after)
        return Connection[StockAdjustment].from_page(page)

    @strawberry.field(description="The catalog as CSV, one row per SKU, with list prices, bands, purchase prices "
                                  "per grade and commission overrides (MANAGE_CATALOG). Money in yuan.")
    async def catalog_csv(self, info: strawberry.Info) -> str:
        return await export.catalog_csv(info.context.session, info.context.viewer)


@strawberry.type
class CatalogMutation:
    @strawberry.mutation(description="Create a supplier (MANAGE_CATALOG).")
    async def supplier_create(self, info: strawberry.Info, input: SupplierInput) -> SupplierPayload:
        supplier, errors = await in_savepoint(info, lambda s: admin.create_supplier(
            s, info.context.viewer, name=input.name, contact=input.contact))
        return SupplierPayload(supplier=supplier, user_errors=errors)

    @strawberry.mutation(description="Change a supplier (MANAGE_CATALOG).")
    async def supplier_update(self, info: strawberry.Info, supplier_id: strawberry.ID, input: SupplierInput
                              ) -> SupplierPayload:
        async def action(session):
            return await admin.update_supplier(session, info.context.viewer,
                                               decode_id(supplier_id, "Supplier", "supplierId"),
                                               name=input.name, contact=input.contact)

        supplier, errors = await in_savepoint(info, action)
        return SupplierPayload(supplier=supplier, user_errors=errors)

    @strawberry.mutation(description="Create a category (MANAGE_CATALOG).")
    async def category_create(self, info: strawberry.Info, input: CategoryInput) -> CategoryPayload:
        async def action(session):
            return await admin.create_category(
                session, info.context.viewer, name=input.name,
                parent_id=_optional_id(input.parent_id, "Category", "parentId"), sort_order=input.sort_order or 0)

        category, errors = await in_savepoint(info, action)
        return CategoryPayload(category=category, user_errors=errors)

    @strawberry.mutation(description="Rename or reorder a category (MANAGE_CATALOG).")
    async def category_update(self, info: strawberry.Info, category_id: strawberry.ID, input: CategoryInput
                              ) -> CategoryPayload:
        async def action(session):
            return await admin.update_category(session, info.context.viewer,
                                               decode_id(category_id, "Category", "categoryId"),
                                               name=input.name, sort_order=input.sort_order)

        category, errors = await in_savepoint(info, action)
        return CategoryPayload(category=category, user_errors=errors)

    @strawberry.mutation(description="Create a product with its SKUs (MANAGE_CATALOG). Audited.")
    async def product_create(self, info: strawberry.Info, input: ProductInput) -> ProductPayload:
        async def action(session):
            skus = [_sku_values(s) for s in (input.skus or [])] if input.skus is not strawberry.UNSET else []
            return await admin.create_product(session, info.context.viewer, _product_values(input), skus)

        product, errors = await in_savepoint(info, action)
        return ProductPayload(product=product, user_errors=errors)

    @strawberry.mutation(description="Change a product, or put it on or off shelf (MANAGE_CATALOG). Audited.")
    async def product_update(self, info: strawberry.Info, product_id: strawberry.ID, input: ProductInput
                             ) -> ProductPayload:
        async def action(session):
            if input.skus is not strawberry.UNSET:
                raise ServiceError(ErrorCode.INVALID, "Add SKUs with skuCreate.", "skus")
            return await admin.update_product(session, info.context.viewer,
                                              decode_id(product_id, "Product", "productId"), _product_values(input))

        product, errors = await in_savepoint(info, action)
        return ProductPayload(product=product, user_errors=errors)

    @strawberry.mutation(description="Add a SKU to a product (MANAGE_CATALOG).")
    async def sku_create(self, info: strawberry.Info, product_id: strawberry.ID, input: SkuInput) -> SkuPayload:
        async def action(session):
            return await admin.create_sku(session, info.context.viewer,
                                          decode_id(product_id, "Product", "productId"), _sku_values(input))

        sku, errors = await in_savepoint(info, action)
        return SkuPayload(sku=sku, user_errors=errors)

    @strawberry.mutation(description="Change a SKU's code, attributes or list price (MANAGE_CATALOG). Audited.")
    async def sku_update(self, info: strawberry.Info, sku_id: strawberry.ID, input: SkuInput) -> SkuPayload:
        async def action(session):
            return await admin.update_sku(session, info.context.viewer, decode_id(sku_id, "Sku", "skuId"),
                                          _sku_values(input))

        sku, errors = await in_savepoint(info, action)
        return SkuPayload(sku=sku, user_errors=errors)

    @strawberry.mutation(description="Whether a product may be distributed and by which grades and regions "
                                     "(MANAGE_CATALOG). Audited.")
    async def product_distribution_set(self, info: strawberry.Info, input: ProductDistributionInput
                                       ) -> ProductPayload:
        async def action(session):
            return await distribution.set_distribution(
                session, info.context.viewer, decode_id(input.product_id, "Product", "productId"),
                distributable=input.distributable,
                grade_ids=[decode_id(g, "Grade", "gradeIds") for g in input.grade_ids],
                region_ids=[_region_id(c, "regionCodes") for c in input.region_codes])

        product, errors = await in_savepoint(info, action)
        return ProductPayload(product=product, user_errors=errors)

    @strawberry.mutation(description="Set or remove a SKU's purchase prices (进货价) per grade (MANAGE_CATALOG). "
                                     "Audited.")
    async def sku_purchase_prices_set(self, info: strawberry.Info, input: SkuPurchasePricesInput) -> SkuPayload:
        async def action(session):
            prices = [(decode_id(p.grade_id, "Grade", f"prices.{i}.gradeId"), p.price)
                      for i, p in enumerate(input.prices)]
            return await distribution.set_purchase_prices(session, info.context.viewer,
                                                          decode_id(input.sku_id, "Sku", "skuId"), prices)

        sku, errors = await in_savepoint(info, action)
        return SkuPayload(sku=sku, user_errors=errors)

    @strawberry.mutation(description="Replace a product's commission overrides per grade and tier (tiers 1-3; "
                                     "MANAGE_CATALOG). Audited.")
    async def product_commission_rules_set(self, info: strawberry.Info, input: ProductCommissionRulesInput
                                           ) -> ProductPayload:
        async def action(session):
            rules = [distribution.RuleInput(
                grade_id=decode_id(r.grade_id, "Grade", f"rules.{i}.gradeId"), tier=r.tier, mode=r.mode,
                value=r.rate if r.mode == CommissionMode.PERCENT else r.fixed_amount)
                for i, r in enumerate(input.rules)]
            return await distribution.set_commission_rules(
                session, info.context.viewer, decode_id(input.product_id, "Product", "productId"), rules)

        product, errors = await in_savepoint(info, action)
        return ProductPayload(product=product, user_errors=errors)

    @strawberry.mutation(description="Set a SKU's price band (MANAGE_CATALOG). Distributor prices left outside "
                                     "are returned in strandedPrices (with a BAND_STRANDS_PRICES warning) and are "
                                     "not used until fixed. Audited.")
    async def sku_band_update(self, info: strawberry.Info, input: SkuBandInput) -> SkuBandPayload:
        change, errors = await in_savepoint(info, lambda s: bands.update_band(
            s, info.context.viewer, decode_id(input.sku_id, "Sku", "skuId"), band_min=input.band_min,
            band_max=input.band_max))
        if change is None:
            return SkuBandPayload(user_errors=errors)
        warnings = []
        if change.stranded:
            warnings.append(UserError(field="bandMin", code=ErrorCode.BAND_STRANDS_PRICES,
                                      message=f"{len(change.stranded)} distributor price(s) now lie outside the "
                                              "band; shoppers pay the list price until they are fixed."))
        return SkuBandPayload(sku=change.sku, stranded_prices=change.stranded, warnings=warnings)

    @strawberry.mutation(description="Set your resale price for a SKU, inside its band (an active distributor "
                                     "allowed to distribute the product).")
    async def distributor_price_set(self, info: strawberry.Info, input: DistributorPriceInput
                                    ) -> DistributorPricePayload:
        price, errors = await in_savepoint(info, lambda s: bands.set_distributor_price(
            s, info.context.viewer, decode_id(input.sku_id, "Sku", "skuId"), input.price))
        return DistributorPricePayload(distributor_price=price, user_errors=errors)

    @strawberry.mutation(description="Remove your resale price for a SKU: shoppers through you pay the list price.")
    async def distributor_price_clear(self, info: strawberry.Info, sku_id: strawberry.ID) -> DistributorPricePayload:
        cleared, errors = await in_savepoint(info, lambda s: bands.clear_distributor_price(
            s, info.context.viewer, decode_id(sku_id, "Sku", "skuId")))
        return DistributorPricePayload(cleared=bool(cleared), user_errors=errors)

    @strawberry.mutation(description="Add or remove stock with a reason (MANAGE_CATALOG); stock never goes below "
                                     "zero. Recorded in stockAdjustments.")
    async def stock_adjust(self, info: strawberry.Info, input: StockAdjustInput) -> StockAdjustPayload:
        async def action(session):
            sku_id = decode_id(input.sku_id, "Sku", "skuId")
            adjustment = await stock.adjust_stock(session, info.context.viewer, sku_id,
                                                  delta=input.delta, reason=input.reason)
            return adjustment, await lookup.get_sku(session, sku_id)

        result, errors = await in_savepoint(info, action)
        if result is None:
            return StockAdjustPayload(user_errors=errors)
        adjustment, sku = result
        return StockAdjustPayload(sku=sku, adjustment=adjustment)
