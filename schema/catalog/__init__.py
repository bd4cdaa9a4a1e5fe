"""The catalog's GraphQL types: suppliers, categories, products, SKUs, distribution rules, price
bands, stock, and what a distributor may sell and earn, one module per concern."""

from schema.catalog.inputs import (
    CategoryInput,
    CategoryPayload,
    CommissionRuleInput,
    DistributorPriceInput,
    DistributorPricePayload,
    GradePurchasePriceInput,
    ProductCommissionRulesInput,
    ProductDistributionInput,
    ProductInput,
    ProductPayload,
    SkuAttributeInput,
    SkuBandInput,
    SkuBandPayload,
    SkuInput,
    SkuPayload,
    SkuPurchasePricesInput,
    StockAdjustInput,
    StockAdjustPayload,
    SupplierInput,
    SupplierPayload,
)
from schema.catalog.offers import DistributableProduct, DistributableSku, DistributorPrice, TierCommission
from schema.catalog.products import (
    Category,
    CommissionMode,
    GradePurchasePrice,
    Product,
    ProductCommissionRule,
    Sku,
    SkuAttribute,
    StockAdjustment,
    Supplier,
)

__all__ = [
    "Category", "CategoryInput", "CategoryPayload", "CommissionMode", "CommissionRuleInput", "DistributableProduct",
    "DistributableSku", "DistributorPrice", "DistributorPriceInput", "DistributorPricePayload",
    "GradePurchasePrice", "GradePurchasePriceInput", "Product", "ProductCommissionRule",
    "ProductCommissionRulesInput", "ProductDistributionInput", "ProductInput", "ProductPayload", "Sku",
    "SkuAttribute", "SkuAttributeInput", "SkuBandInput", "SkuBandPayload", "SkuInput", "SkuPayload",
    "SkuPurchasePricesInput", "StockAdjustInput", "StockAdjustPayload", "StockAdjustment", "Supplier",
    "SupplierInput", "SupplierPayload", "TierCommission",
]
