"""The catalog: suppliers, categories, products and SKUs, distribution permissions, purchase
prices, commission overrides, price bands (价格带) with distributors' resale prices, stock and
the staff export. One concern per module:

- access: who may see and edit what
- lookup: catalog objects by id
- admin: staff editing of suppliers, categories, products and SKUs
- browse: which products a viewer sees, at whose prices
- distribution: which grades and regions may distribute, purchase prices, commission overrides
- bands: price bands and distributors' resale prices
- pricing: effective prices and band floors, what orders are priced with
- stock: reservations by orders and adjustments by staff
- offers: what a distributor may distribute and earn
- export: the catalog CSV

The names below are the ones the order and commission engines build on.
"""

from services.catalog.distribution import commission_rules
from services.catalog.pricing import band_floor, effective_prices
from services.catalog.stock import release_stock, reserve_stock

__all__ = ["band_floor", "commission_rules", "effective_prices", "release_stock", "reserve_stock"]
