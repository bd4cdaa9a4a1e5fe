"""Dataloaders and node fetchers of the catalog.

Loaders of data only some viewers may see (suppliers, distribution rules, purchase prices,
commission overrides) apply the rules of services.catalog.access themselves, so every path to
those fields, nested or through `node`, gives the same answer.
"""

from __future__ import annotations

import strawberry

from loaders.base import GroupedLoader, KeyedLoader, OperationLoader
from loaders.node import register_node
from services.catalog import access, browse, distribution, lookup, pricing


class CategoryByIdLoader(KeyedLoader):
    fetch = staticmethod(lookup.categories_by_ids)


class ProductByIdLoader(KeyedLoader):
    fetch = staticmethod(lookup.products_by_ids)


class SkuByIdLoader(KeyedLoader):
    fetch = staticmethod(lookup.skus_by_ids)


class SkusByProductIdLoader(KeyedLoader):
    fetch = staticmethod(lookup.skus_by_product_ids)


class ActiveDistributorByUserIdLoader(KeyedLoader):
    fetch = staticmethod(access.active_distributors_by_user_ids)


class EffectivePriceBySkuIdLoader(GroupedLoader):
    """Keys (sku_id, distributor_id): the price shoppers through that distributor pay."""

    fetch = staticmethod(pricing.effective_prices)


async def _own_distributor(context):
    """The viewer's own active distributor record, once per operation."""
    user_id = context.viewer.user_id
    if user_id is None:
        return None
    return await ActiveDistributorByUserIdLoader(context).load(user_id)


async def viewer_sees_bands(context) -> bool:
    return access.sees_bands(context.viewer, await _own_distributor(context))


class SupplierByIdLoader(OperationLoader):
    """Suppliers, for viewers who may see them; None for everyone else."""

    async def batch_load(self, keys: list[int]) -> list:
        if not access.sees_suppliers(self.context.viewer):
            return [None] * len(keys)
        found = await lookup.suppliers_by_ids(self.session, list(keys))
        return [found.get(key) for key in keys]


class _DistributionRulesLoader(OperationLoader):
    fetch = None

    async def batch_load(self, keys: list[int]) -> list:
        if not access.sees_distribution_rules(self.context.viewer):
            return [None] * len(keys)
        found = await type(self).fetch(self.session, list(keys))
        return [found.get(key) for key in keys]


class AllowedGradeIdsByProductIdLoader(_DistributionRulesLoader):
    """The grades allowed to distribute each product (empty: all); None for viewers who may not see it."""

    fetch = staticmethod(distribution.allowed_grade_ids)


class AllowedRegionIdsByProductIdLoader(_DistributionRulesLoader):
    """The regions allowed to distribute each product (empty: everywhere); None as above."""

    fetch = staticmethod(distribution.allowed_region_ids)


class _GradeViewLoader(OperationLoader):
    """Grade-specific rows as the viewer may see them (access.grade_view): every grade's, their
    own grade's, or None."""

    fetch = None

    async def batch_load(self, keys: list[int]) -> list:
        view = access.grade_view(self.context.viewer, await _own_distributor(self.context))
        if not view.sees_any:
            return [None] * len(keys)
        found = await type(self).fetch(self.session, list(keys), None if view.every_grade else view.grade_id)
        return [found.get(key) for key in keys]


class PurchasePricesBySkuIdLoader(_GradeViewLoader):
    fetch = staticmethod(distribution.purchase_prices)


class CommissionRulesByProductIdLoader(_GradeViewLoader):
    fetch = staticmethod(distribution.rules_by_product_ids)


async def fetch_product_node(info: strawberry.Info, pk: int):
    return await browse.priced_product(info.context.session, info.context.viewer, pk)


async def fetch_sku_node(info: strawberry.Info, pk: int):
    return await browse.priced_sku(info.context.session, info.context.viewer, pk)


async def fetch_category_node(info: strawberry.Info, pk: int):
    return await CategoryByIdLoader(info.context).load(pk)


async def fetch_supplier_node(info: strawberry.Info, pk: int):
    return await SupplierByIdLoader(info.context).load(pk)


register_node("Product", fetch_product_node)
register_node("Sku", fetch_sku_node)
register_node("Category", fetch_category_node)
register_node("Supplier", fetch_supplier_node)
