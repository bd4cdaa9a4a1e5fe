"""The catalog: browsing, staff editing, distribution rules, price bands, resale prices, stock,
the distributor's "what may I sell and earn" and the CSV export."""

from __future__ import annotations

from collections import defaultdict

import strawberry
from strawberry.dataloader import DataLoader

from auth.permissions import Permission
from core.errors import ErrorCode, ServiceError
from resolvers.account import user_by_id_loader
from resolvers.base import decode_id, in_savepoint, keyed_loader, region_id as _region_id
from resolvers.network import distributor_by_id_loader, grade_by_id_loader, region_by_id_loader
from resolvers.node import register_node
from schema.base import Connection, UserError
from schema.catalog import (
    Category,
    CategoryInput,
    CategoryPayload,
    DistributableProduct,
    DistributorPrice,
    DistributorPriceInput,
    DistributorPricePayload,
    PricedProduct,
    PricedSku,
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
from services import catalog as catalog_service
from services.catalog import in_band

__all__ = ["CatalogMutation", "CatalogQuery", "distributor_by_id_loader", "grade_by_id_loader", "in_band",
           "region_by_id_loader", "user_by_id_loader"]


# ---------------------------------------------------------------- dataloaders

category_by_id_loader = keyed_loader(catalog_service.categories_by_ids)
supplier_by_id_loader = keyed_loader(catalog_service.suppliers_by_ids)
sku_by_id_loader = keyed_loader(catalog_service.skus_by_ids)
product_by_id_loader = keyed_loader(catalog_service.products_by_ids)
skus_by_product_id_loader = keyed_loader(catalog_service.skus_by_product_ids)
allowed_grades_loader = keyed_loader(catalog_service.allowed_grade_ids)
allowed_regions_loader = keyed_loader(catalog_service.allowed_region_ids)
purchase_prices_loader = keyed_loader(catalog_service.purchase_prices)
commission_rules_loader = keyed_loader(catalog_service.rules_by_product_ids)
active_distributor_by_user_loader = keyed_loader(catalog_service.active_distributors_by_user_ids)


def _by_key_for_grade(fetch):
    """Keys (id, grade_id): one query per grade asked about in the operation."""
    def factory(context) -> DataLoader:
        async def load(keys: list[tuple[int, int]]):
            by_grade: dict[int, list[int]] = defaultdict(list)
            for key_id, grade_id in keys:
                by_grade[grade_id].append(key_id)
            found = {}
            for grade_id, ids in by_grade.items():
                for key_id, value in (await fetch(context.session, ids, grade_id)).items():
                    found[(key_id, grade_id)] = value
            return [found.get(k) for k in keys]

        return DataLoader(load_fn=load)

    return factory


own_purchase_prices_loader = _by_key_for_grade(catalog_service.purchase_prices)
own_commission_rules_loader = _by_key_for_grade(catalog_service.rules_by_product_ids)


def effective_price_loader(context) -> DataLoader:
    """Keys (sku_id, distributor_id): one price lookup per distributor in the operation."""
    async def load(keys: list[tuple[int, int]]):
        by_distributor: dict[int, list[int]] = defaultdict(list)
        for sku_id, distributor_id in keys:
            by_distributor[distributor_id].append(sku_id)
        found = {}
        for distributor_id, sku_ids in by_distributor.items():
            prices = await catalog_service.effective_prices(context.session, sku_ids, distributor_id)
            found.update({(sku_id, distributor_id): price for sku_id, price in prices.items()})
        return [found.get(k) for k in keys]

    return DataLoader(load_fn=load)


async def _own_distributor(info: strawberry.Info):
    user_id = info.context.viewer.user_id
    if user_id is None:
        return None
    return await info.context.loader("ActiveDistributorByUserLoader", active_distributor_by_user_loader).load(user_id)


async def sees_bands(info: strawberry.Info) -> bool:
    return info.context.viewer.has(Permission.MANAGE_CATALOG) or await _own_distributor(info) is not None


async def visible_purchase_prices(info: strawberry.Info, sku_id: int):
    """Every grade's for catalog staff, the viewer's own grade's for a distributor, else None."""
    if info.context.viewer.has(Permission.MANAGE_CATALOG):
        return await info.context.loader("PurchasePricesBySkuLoader", purchase_prices_loader).load(sku_id)
    own = await _own_distributor(info)
    if own is None or own.grade_id is None:
        return None
    return await info.context.loader("OwnPurchasePricesBySkuLoader", own_purchase_prices_loader).load(
        (sku_id, own.grade_id))


async def visible_commission_rules(info: strawberry.Info, product_id: int):
    if info.context.viewer.has(Permission.MANAGE_CATALOG):
        return await info.context.loader("CommissionRulesByProductLoader", commission_rules_loader).load(product_id)
    own = await _own_distributor(info)
    if own is None or own.grade_id is None:
        return None
    return await info.context.loader("OwnCommissionRulesByProductLoader", own_commission_rules_loader).load(
        (product_id, own.grade_id))


# ---------------------------------------------------------------- nodes

async def _fetch_product(info: strawberry.Info, pk: int):
    session, viewer = info.context.session, info.context.viewer
    product = await catalog_service.visible_product(session, viewer, pk)
    if product is None:
        return None
    distributor = await catalog_service.pricing_distributor(session, viewer, None)
    return PricedProduct(product, distributor.id if distributor else None)


async def _fetch_sku(info: strawberry.Info, pk: int):
    session, viewer = info.context.session, info.context.viewer
    sku = await catalog_service.visible_sku(session, viewer, pk)
    if sku is None:
        return None
    distributor = await catalog_service.pricing_distributor(session, viewer, None)
    return PricedSku(sku, distributor.id if distributor else None)


async def _fetch_category(info: strawberry.Info, pk: int):
    return await info.context.loader("CategoryByIdLoader", category_by_id_loader).load(pk)


async def _fetch_supplier(info: strawberry.Info, pk: int):
    if not info.context.viewer.has(Permission.MANAGE_CATALOG):
        return None
    return await info.context.loader("SupplierByIdLoader", supplier_by_id_loader).load(pk)


register_node("Product", _fetch_product)
register_node("Sku", _fetch_sku)
register_node("Category", _fetch_category)
register_node("Supplier", _fetch_supplier)


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


def _pricing_page(page, distributor_id: int | None) -> Connection[Product]:
    page.items = [PricedProduct(p, distributor_id) for p in page.items]
    return Connection[Product].from_page(page)


@strawberry.type
class CatalogQuery:
    @strawberry.field(description="On-shelf products, newest first, optionally in a category (with its "
                                  "sub-categories) or matching a title search. Prices are those of the "
                                  "distributor you arrived through (`via`: invite code, QR scene or share "
                                  "token) or are bound to. Staff (MANAGE_CATALOG) may include off-shelf ones.")
    async def products(self, info: strawberry.Info, first: int | None = 20, after: str | None = None,
                       category_id: strawberry.ID | None = None, search: str | None = None,
                       via: str | None = None, include_off_shelf: bool = False) -> Connection[Product]:
        session, viewer = info.context.session, info.context.viewer
        page = await catalog_service.browse_products(
            session, viewer, first=first, after=after,
            category_id=_optional_id(category_id, "Category", "categoryId"), search=search,
            include_off_shelf=include_off_shelf)
        distributor = await catalog_service.pricing_distributor(session, viewer, via)
        return _pricing_page(page, distributor.id if distributor else None)

    @strawberry.field(description="One product (null when missing or off shelf), priced as in `products`.")
    async def product(self, info: strawberry.Info, id: strawberry.ID, via: str | None = None) -> Product | None:
        session, viewer = info.context.session, info.context.viewer
        product = await catalog_service.visible_product(session, viewer, decode_id(id, "Product", "id"))
        if product is None:
            return None
        distributor = await catalog_service.pricing_distributor(session, viewer, via)
        return PricedProduct(product, distributor.id if distributor else None)

    @strawberry.field(description="Every category, in display order.")
    async def categories(self, info: strawberry.Info) -> list[Category]:
        return await catalog_service.list_categories(info.context.session)

    @strawberry.field(description="Suppliers (MANAGE_CATALOG).")
    async def suppliers(self, info: strawberry.Info, first: int | None = 20, after: str | None = None
                        ) -> Connection[Supplier]:
        page = await catalog_service.list_suppliers(info.context.session, info.context.viewer, first=first,
                                                    after=after)
        return Connection[Supplier].from_page(page)

    @strawberry.field(description="What you may distribute (an active distributor): on-shelf, distributable "
                                  "products open to your grade and region, each SKU with your purchase price, "
                                  "your resale price, the band and your commission per tier.")
    async def distributable_products(self, info: strawberry.Info, first: int | None = 20,
                                     after: str | None = None) -> Connection[DistributableProduct]:
        _, page = await catalog_service.distributable_products(info.context.session, info.context.viewer,
                                                               first=first, after=after)
        return Connection[DistributableProduct].from_page(page)

    @strawberry.field(description="Distributor prices outside their SKU's current band, not used until fixed "
                                  "(MANAGE_CATALOG).")
    async def stranded_distributor_prices(self, info: strawberry.Info, first: int | None = 20,
                                          after: str | None = None) -> Connection[DistributorPrice]:
        page = await catalog_service.stranded_prices(info.context.session, info.context.viewer, first=first,
                                                     after=after)
        return Connection[DistributorPrice].from_page(page)

    @strawberry.field(description="A SKU's stock adjustments, newest first (MANAGE_CATALOG).")
    async def stock_adjustments(self, info: strawberry.Info, sku_id: strawberry.ID, first: int | None = 20,
                                after: str | None = None) -> Connection[StockAdjustment]:
        page = await catalog_service.stock_history(info.context.session, info.context.viewer,
                                                   decode_id(sku_id, "Sku", "skuId"), first=first, after=after)
        return Connection[StockAdjustment].from_page(page)

    @strawberry.field(description="The catalog as CSV, one row per SKU, with list prices, bands, purchase prices "
                                  "per grade and commission overrides (MANAGE_CATALOG). Money in yuan.")
    async def catalog_csv(self, info: strawberry.Info) -> str:
        return await catalog_service.catalog_csv(info.context.session, info.context.viewer)


@strawberry.type
class CatalogMutation:
    @strawberry.mutation(description="Create a supplier (MANAGE_CATALOG).")
    async def supplier_create(self, info: strawberry.Info, input: SupplierInput) -> SupplierPayload:
        supplier, errors = await in_savepoint(info, lambda s: catalog_service.create_supplier(
            s, info.context.viewer, name=input.name, contact=input.contact))
        return SupplierPayload(supplier=supplier, user_errors=errors)

    @strawberry.mutation(description="Change a supplier (MANAGE_CATALOG).")
    async def supplier_update(self, info: strawberry.Info, supplier_id: strawberry.ID, input: SupplierInput
                              ) -> SupplierPayload:
        async def action(session):
            return await catalog_service.update_supplier(session, info.context.viewer,
                                                         decode_id(supplier_id, "Supplier", "supplierId"),
                                                         name=input.name, contact=input.contact)

        supplier, errors = await in_savepoint(info, action)
        return SupplierPayload(supplier=supplier, user_errors=errors)

    @strawberry.mutation(description="Create a category (MANAGE_CATALOG).")
    async def category_create(self, info: strawberry.Info, input: CategoryInput) -> CategoryPayload:
        async def action(session):
            return await catalog_service.create_category(
                session, info.context.viewer, name=input.name,
                parent_id=_optional_id(input.parent_id, "Category", "parentId"), sort_order=input.sort_order or 0)

        category, errors = await in_savepoint(info, action)
        return CategoryPayload(category=category, user_errors=errors)

    @strawberry.mutation(description="Rename or reorder a category (MANAGE_CATALOG).")
    async def category_update(self, info: strawberry.Info, category_id: strawberry.ID, input: CategoryInput
                              ) -> CategoryPayload:
        async def action(session):
            return await catalog_service.update_category(session, info.context.viewer,
                                                         decode_id(category_id, "Category", "categoryId"),
                                                         name=input.name, sort_order=input.sort_order)

        category, errors = await in_savepoint(info, action)
        return CategoryPayload(category=category, user_errors=errors)

    @strawberry.mutation(description="Create a product with its SKUs (MANAGE_CATALOG). Audited.")
    async def product_create(self, info: strawberry.Info, input: ProductInput) -> ProductPayload:
        async def action(session):
            skus = [_sku_values(s) for s in (input.skus or [])] if input.skus is not strawberry.UNSET else []
            return await catalog_service.create_product(session, info.context.viewer, _product_values(input), skus)

        product, errors = await in_savepoint(info, action)
        return ProductPayload(product=product, user_errors=errors)

    @strawberry.mutation(description="Change a product, or put it on or off shelf (MANAGE_CATALOG). Audited.")
    async def product_update(self, info: strawberry.Info, product_id: strawberry.ID, input: ProductInput
                             ) -> ProductPayload:
        async def action(session):
            if input.skus is not strawberry.UNSET:
                raise ServiceError(ErrorCode.INVALID, "Add SKUs with skuCreate.", "skus")
            return await catalog_service.update_product(session, info.context.viewer,
                                                        decode_id(product_id, "Product", "productId"),
                                                        _product_values(input))

        product, errors = await in_savepoint(info, action)
        return ProductPayload(product=product, user_errors=errors)

    @strawberry.mutation(description="Add a SKU to a product (MANAGE_CATALOG).")
    async def sku_create(self, info: strawberry.Info, product_id: strawberry.ID, input: SkuInput) -> SkuPayload:
        async def action(session):
            return await catalog_service.create_sku(session, info.context.viewer,
                                                    decode_id(product_id, "Product", "productId"), _sku_values(input))

        sku, errors = await in_savepoint(info, action)
        return SkuPayload(sku=sku, user_errors=errors)

    @strawberry.mutation(description="Change a SKU's code, attributes or list price (MANAGE_CATALOG). Audited.")
    async def sku_update(self, info: strawberry.Info, sku_id: strawberry.ID, input: SkuInput) -> SkuPayload:
        async def action(session):
            values = _sku_values(input)
            if {"stock", "band_min_fen", "band_max_fen"} & set(values):
                raise ServiceError(ErrorCode.INVALID, "Change stock with stockAdjust and the band with "
                                                      "skuBandUpdate.", "stock" if "stock" in values else "bandMin")
            return await catalog_service.update_sku(session, info.context.viewer, decode_id(sku_id, "Sku", "skuId"),
                                                    values)

        sku, errors = await in_savepoint(info, action)
        return SkuPayload(sku=sku, user_errors=errors)

    @strawberry.mutation(description="Whether a product may be distributed and by which grades and regions "
                                     "(MANAGE_CATALOG). Audited.")
    async def product_distribution_set(self, info: strawberry.Info, input: ProductDistributionInput
                                       ) -> ProductPayload:
        async def action(session):
            return await catalog_service.set_distribution(
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
            return await catalog_service.set_purchase_prices(session, info.context.viewer,
                                                             decode_id(input.sku_id, "Sku", "skuId"), prices)

        sku, errors = await in_savepoint(info, action)
        return SkuPayload(sku=sku, user_errors=errors)

    @strawberry.mutation(description="Replace a product's commission overrides per grade and tier (tiers 1-3; "
                                     "MANAGE_CATALOG). Audited.")
    async def product_commission_rules_set(self, info: strawberry.Info, input: ProductCommissionRulesInput
                                           ) -> ProductPayload:
        async def action(session):
            rules = [catalog_service.RuleInput(
                grade_id=decode_id(r.grade_id, "Grade", f"rules.{i}.gradeId"), tier=r.tier, mode=r.mode,
                value=r.rate if r.mode == catalog_service.CommissionMode.PERCENT else r.fixed_amount)
                for i, r in enumerate(input.rules)]
            return await catalog_service.set_commission_rules(
                session, info.context.viewer, decode_id(input.product_id, "Product", "productId"), rules)

        product, errors = await in_savepoint(info, action)
        return ProductPayload(product=product, user_errors=errors)

    @strawberry.mutation(description="Set a SKU's price band (MANAGE_CATALOG). Distributor prices left outside "
                                     "are returned in strandedPrices (with a BAND_STRANDS_PRICES warning) and are "
                                     "not used until fixed. Audited.")
    async def sku_band_update(self, info: strawberry.Info, input: SkuBandInput) -> SkuBandPayload:
        change, errors = await in_savepoint(info, lambda s: catalog_service.update_band(
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
        price, errors = await in_savepoint(info, lambda s: catalog_service.set_distributor_price(
            s, info.context.viewer, decode_id(input.sku_id, "Sku", "skuId"), input.price))
        return DistributorPricePayload(distributor_price=price, user_errors=errors)

    @strawberry.mutation(description="Remove your resale price for a SKU: shoppers through you pay the list price.")
    async def distributor_price_clear(self, info: strawberry.Info, sku_id: strawberry.ID) -> DistributorPricePayload:
        cleared, errors = await in_savepoint(info, lambda s: catalog_service.clear_distributor_price(
            s, info.context.viewer, decode_id(sku_id, "Sku", "skuId")))
        return DistributorPricePayload(cleared=bool(cleared), user_errors=errors)

    @strawberry.mutation(description="Add or remove stock with a reason (MANAGE_CATALOG); stock never goes below "
                                     "zero. Recorded in stockAdjustments.")
    async def stock_adjust(self, info: strawberry.Info, input: StockAdjustInput) -> StockAdjustPayload:
        async def action(session):
            sku_id = decode_id(input.sku_id, "Sku", "skuId")
            adjustment = await catalog_service.adjust_stock(session, info.context.viewer, sku_id,
                                                            delta=input.delta, reason=input.reason)
            return adjustment, await catalog_service.get_sku(session, sku_id)

        result, errors = await in_savepoint(info, action)
        if result is None:
            return StockAdjustPayload(user_errors=errors)
        adjustment, sku = result
        return StockAdjustPayload(sku=sku, adjustment=adjustment)
