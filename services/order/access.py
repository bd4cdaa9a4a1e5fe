"""Who may see an order, and how much of its buyer they see.

An order is visible to its buyer, to the distributors of the team it was attributed in (as the
tree was when it was paid) and to staff with MANAGE_ORDERS. Distributors see the buyer's and
the recipient's contact details masked; the buyer and staff see them whole.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from auth.permissions import Permission
from auth.viewer import Viewer
from models.network import Distributor
from models.order import Order
from services import network as network_service
from services.account import mask_phone
from services.order.lookup import orders_by_ids


def in_team(order: Order, distributor: Distributor) -> bool:
    """The order was attributed to the distributor or to someone below them when it was paid."""
    if order.attributed_distributor_id == distributor.id:
        return True
    return bool(order.attributed_path and distributor.path and order.attributed_path.startswith(distributor.path))


async def visible_orders(session: AsyncSession, viewer: Viewer, ids: list[int]) -> dict[int, Order]:
    """The orders among `ids` the viewer may see."""
    if viewer.user_id is None:
        return {}
    orders = await orders_by_ids(session, ids)
    if viewer.has(Permission.MANAGE_ORDERS):
        return orders
    visible = {pk: o for pk, o in orders.items() if o.buyer_id == viewer.user_id}
    if len(visible) < len(orders):
        own = await network_service.distributor_for_user(session, viewer.user_id)
        if own is not None and own.path:
            visible.update({pk: o for pk, o in orders.items() if in_team(o, own)})
    return visible


def sees_buyer(viewer: Viewer, order: Order) -> bool:
    """The buyer and staff see the buyer's contact details whole."""
    return order.buyer_id == viewer.user_id or viewer.has(Permission.MANAGE_ORDERS)


def buyer_phone_as_seen_by(viewer: Viewer, order: Order, phone: str | None) -> str | None:
    return phone if sees_buyer(viewer, order) else mask_phone(phone)


def recipient_as_seen_by(viewer: Viewer, order: Order) -> str:
    if sees_buyer(viewer, order):
        return order.recipient
    return order.recipient[:1] + "**" if order.recipient else ""


def recipient_phone_as_seen_by(viewer: Viewer, order: Order) -> str:
    if sees_buyer(viewer, order):
        return order.recipient_phone
    return mask_phone(order.recipient_phone) or ""
