"""Placing an order: attribution, prices from the catalog, the distributor's discount and the
band floor it may go below only at the distributor's cost, stock reserved until paid or expired."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from auth.viewer import Viewer
from core.errors import ErrorCode, ServiceError
from models.base import utcnow
from models.catalog import Product, Sku
from models.network import Distributor, DistributorStatus, Grade, ShareLink
from models.order import AttributionSource, Channel, Order, OrderItem, OrderStatus
from services import commission
from services import network as network_service
from services.catalog.pricing import band_floor, effective_prices
from services.catalog.stock import reserve_stock
from services.order.events import emit_order_event

MAX_ITEMS = 50
MAX_QUANTITY = 999


@dataclass(frozen=True)
class ItemRequest:
    sku_id: int
    quantity: int


@dataclass(frozen=True)
class Shipping:
    province_id: int | None
    city_id: int | None
    district_id: int | None
    address: str
    recipient: str
    phone: str


async def _attribution(session: AsyncSession, buyer_id: int, own: Distributor | None, share_token: str | None
                       ) -> tuple[Distributor | None, AttributionSource, int | None]:
    """Who an order is attributed to: an explicit share token, else self-purchase (an active
    distributor buying, when the program lets that earn), else the buyer's binding."""
    program = await network_service.get_program(session)
    if share_token:
        link = await session.scalar(select(ShareLink).where(ShareLink.token == share_token))
        if link is None:
            raise ServiceError(ErrorCode.NOT_FOUND, "This share link does not exist.", "shareToken")
        sharer = await session.get(Distributor, link.distributor_id)
        if sharer is not None and sharer.status == DistributorStatus.ACTIVE and sharer.user_id != buyer_id:
            return sharer, AttributionSource.SHARE_TOKEN, link.id
    if own is not None and own.status == DistributorStatus.ACTIVE and program.self_purchase_commission:
        return own, AttributionSource.SELF_PURCHASE, None
    if own is not None and own.parent_id is not None:
        upline = await session.get(Distributor, own.parent_id)
        return upline, AttributionSource.BINDING, None
    binding = await network_service.active_binding(session, buyer_id)
    if binding is not None:
        return await session.get(Distributor, binding.distributor_id), AttributionSource.BINDING, None
    return None, AttributionSource.NONE, None


def _quantities(items: list[ItemRequest]) -> dict[int, int]:
    if not items:
        raise ServiceError(ErrorCode.REQUIRED, "Add at least one item.", "items")
    if len(items) > MAX_ITEMS:
        raise ServiceError(ErrorCode.INVALID, f"At most {MAX_ITEMS} lines per order.", "items")
    quantities: dict[int, int] = {}
    for item in items:
        if not 1 <= item.quantity <= MAX_QUANTITY:
            raise ServiceError(ErrorCode.INVALID, f"Quantity must be between 1 and {MAX_QUANTITY}.", "items")
        quantities[item.sku_id] = quantities.get(item.sku_id, 0) + item.quantity
    return quantities


async def _discount_bps(session: AsyncSession, own: Distributor | None) -> int:
    """The buyer's own purchase discount: their grade's, while they are an active distributor."""
    if own is None or own.status != DistributorStatus.ACTIVE or not own.grade_id:
        return 0
    grade = await session.get(Grade, own.grade_id)
    return grade.discount_bps if grade else 0


async def place_order(session: AsyncSession, viewer: Viewer, *, channel: Channel, items: list[ItemRequest],
                      shipping: Shipping, share_token: str | None, idempotency_key: str | None) -> Order:
    buyer_id = viewer.require_user()
    if idempotency_key:
        existing = await session.scalar(select(Order).where(Order.buyer_id == buyer_id,
                                                            Order.idempotency_key == idempotency_key))
        if existing is not None:
            return existing
    quantities = _quantities(items)
    rows = (await session.execute(select(Sku, Product).join(Product, Product.id == Sku.product_id)
                                  .where(Sku.id.in_(quantities)))).all()
    found = {sku.id: (sku, product) for sku, product in rows}
    for sku_id in quantities:
        if sku_id not in found or not found[sku_id][1].on_shelf:
            raise ServiceError(ErrorCode.NOT_FOUND, f"SKU {sku_id} is not for sale.", "items")
    if not shipping.address.strip() or not shipping.recipient.strip():
        raise ServiceError(ErrorCode.REQUIRED, "Give the recipient and the address.", "shipping")

    own = await network_service.distributor_for_user(session, buyer_id)
    distributor, source, share_link_id = await _attribution(session, buyer_id, own, share_token)
    prices = await effective_prices(session, list(quantities), distributor.id if distributor else None)
    floors = await band_floor(session, list(quantities))
    discount_bps = await _discount_bps(session, own)

    settings = await commission.get_settings(session)
    now = utcnow()
    order = Order(buyer_id=buyer_id, idempotency_key=idempotency_key, channel=channel,
                  status=OrderStatus.PENDING_PAYMENT, attribution_source=source,
                  attributed_distributor_id=distributor.id if distributor else None, share_link_id=share_link_id,
                  province_id=shipping.province_id, city_id=shipping.city_id, district_id=shipping.district_id,
                  address=shipping.address.strip()[:200], recipient=shipping.recipient.strip()[:40],
                  recipient_phone=shipping.phone.strip()[:20], items_total_fen=0, discount_fen=0, total_fen=0,
                  expires_at=now + timedelta(minutes=settings.unpaid_expiry_minutes))
    session.add(order)
    await session.flush()
    lines = []
    for sku_id, quantity in quantities.items():
        sku, product = found[sku_id]
        unit = prices[sku_id]
        line_total = unit * quantity
        discount = line_total * discount_bps // 10_000
        paid = line_total - discount
        floor = floors.get(sku_id)
        shortfall = max(0, floor * quantity - paid) if floor is not None and discount else 0
        lines.append(OrderItem(order_id=order.id, product_id=product.id, sku_id=sku_id, title=product.title[:200],
                               quantity=quantity, list_price_fen=sku.price_fen, unit_price_fen=unit,
                               discount_fen=discount, paid_fen=paid, band_floor_fen=floor,
                               band_shortfall_fen=shortfall))
    session.add_all(lines)
    order.items_total_fen = sum(line.unit_price_fen * line.quantity for line in lines)
    order.discount_fen = sum(line.discount_fen for line in lines)
    order.total_fen = sum(line.paid_fen for line in lines)
    await reserve_stock(session, sorted(quantities.items()), order_id=order.id, reason=f"order {order.id} placed")
    await session.flush()
    await emit_order_event(session, order, "placed")
    return order
