"""What an active distributor may distribute, and what they pay and earn on each SKU."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from auth.viewer import Viewer
from core.compliance import MAX_COMMISSION_TIERS
from core.money import split_bps
from core.pagination import Page, SortKey, paginate
from models.catalog import CommissionMode, Product, ProductCommissionRule, Sku
from models.network import Distributor, Grade
from services import network as network_service
from services.catalog.bands import distributor_prices, in_band
from services.catalog.distribution import allowed_clause, purchase_prices, rules_by_product_ids
from services.catalog.lookup import skus_by_product_ids


@dataclass
class TierCommission:
    tier: int
    mode: CommissionMode
    value: int               # bps for PERCENT, fen per unit for FIXED
    amount_fen: int          # what one unit sold at `price_fen` earns
    overridden: bool         # the product's own rule rather than the grade's default


@dataclass
class OfferSku:
    sku: Sku
    purchase_price_fen: int | None
    my_price_fen: int | None
    my_price_in_band: bool
    price_fen: int
    commissions: list[TierCommission]


@dataclass
class Offer:
    product: Product
    skus: list[OfferSku]


def _tier_commissions(grade: Grade | None, rules: dict[int, ProductCommissionRule], price_fen: int
                      ) -> list[TierCommission]:
    result = []
    for tier in range(1, MAX_COMMISSION_TIERS + 1):
        rule = rules.get(tier)
        if rule is not None:
            mode, value, overridden = rule.mode, rule.value, True
        else:
            mode, overridden = CommissionMode.PERCENT, False
            value = getattr(grade, f"tier{tier}_rate_bps", 0) if grade else 0
        amount = split_bps(price_fen, value) if mode == CommissionMode.PERCENT else value
        result.append(TierCommission(tier=tier, mode=mode, value=value, amount_fen=amount, overridden=overridden))
    return result


async def distributable_products(session: AsyncSession, viewer: Viewer, *, first: int | None,
                                 after: str | None) -> tuple[Distributor, Page]:
    """What the signed-in active distributor may distribute, newest first, each SKU with their
    purchase price, their resale price, the price shoppers through them pay and the commission per
    tier at their grade. A fixed number of queries whatever the page size."""
    distributor = await network_service.require_own_distributor(session, viewer, active=True)
    stmt = select(Product).where(await allowed_clause(session, distributor))
    page = await paginate(session, stmt, [SortKey(Product.id, descending=True)], first=first, after=after)
    product_ids = [p.id for p in page.items]
    skus = await skus_by_product_ids(session, product_ids)
    sku_ids = [s.id for group in skus.values() for s in group]
    grade = await session.get(Grade, distributor.grade_id) if distributor.grade_id is not None else None
    bought = await purchase_prices(session, sku_ids, distributor.grade_id) if grade is not None else {}
    own = await distributor_prices(session, distributor.id, sku_ids)
    rules = await rules_by_product_ids(session, product_ids, distributor.grade_id) if grade is not None else {}
    offers = []
    for product in page.items:
        product_rules = {r.tier: r for r in rules.get(product.id, [])}
        rows = []
        for sku in skus[product.id]:
            mine = own.get(sku.id)
            valid = mine is not None and in_band(mine.price_fen, sku)
            price = mine.price_fen if valid else sku.price_fen
            purchase = bought.get(sku.id) or []
            rows.append(OfferSku(sku=sku, purchase_price_fen=purchase[0].purchase_price_fen if purchase else None,
                                 my_price_fen=mine.price_fen if mine else None, my_price_in_band=valid,
                                 price_fen=price, commissions=_tier_commissions(grade, product_rules, price)))
        offers.append(Offer(product=product, skus=rows))
    return distributor, Page(items=offers, cursors=page.cursors, has_next_page=page.has_next_page,
                             has_previous_page=page.has_previous_page)
