"""Paying an order: the payment started at a provider, the provider's verified callback (which
makes the order PAID and creates its commission), and the sandbox shortcut for development."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from auth.viewer import Viewer
from core.errors import ErrorCode, ServiceError
from models.base import utcnow
from models.network import Distributor
from models.order import Order, OrderStatus, Payment, PaymentStatus
from services import audit, commission
from services.order.events import emit_order_event
from services.order.lookup import items_of, order_for_update
from services.payment import InvalidCallback, PaymentProvider, SandboxPaymentProvider


async def start_payment(session: AsyncSession, viewer: Viewer, provider: PaymentProvider, *, order_id: int
                        ) -> tuple[Order, Payment]:
    buyer_id = viewer.require_user()
    order = await order_for_update(session, order_id)
    if order.buyer_id != buyer_id:
        raise ServiceError(ErrorCode.NOT_FOUND, "No such order.", "orderId")
    if order.status != OrderStatus.PENDING_PAYMENT:
        raise ServiceError(ErrorCode.INVALID_STATE, f"This order is {order.status.value}, not awaiting payment.",
                           "orderId")
    if order.expires_at <= utcnow():
        raise ServiceError(ErrorCode.ORDER_EXPIRED, "This order has expired; place it again.", "orderId")
    payment = Payment(order_id=order.id, provider=provider.name, provider_ref=provider.new_reference(),
                      amount_fen=order.total_fen, status=PaymentStatus.PENDING)
    session.add(payment)
    await session.flush()
    return order, payment


async def handle_payment_callback(session: AsyncSession, provider: PaymentProvider, body: bytes,
                                  signature: str | None) -> Payment:
    """The provider's notification. Idempotent: a replayed or concurrent callback for a payment
    already settled changes nothing (the payment row is locked, then its state checked)."""
    try:
        callback = provider.parse_callback(body, signature)
    except InvalidCallback as exc:
        raise ServiceError(ErrorCode.INVALID_SIGNATURE, f"Callback refused: {exc}.") from exc
    payment = await session.scalar(select(Payment).where(Payment.provider_ref == callback.provider_ref)
                                   .with_for_update())
    if payment is None:
        raise ServiceError(ErrorCode.NOT_FOUND, "Unknown payment reference.")
    payment.callback_count += 1
    if payment.status != PaymentStatus.PENDING:
        await session.flush()
        return payment
    if callback.amount_fen != payment.amount_fen:
        raise ServiceError(ErrorCode.AMOUNT_MISMATCH, "The paid amount does not match the order.")
    now = utcnow()
    payment.completed_at = now
    if not callback.succeeded:
        payment.status = PaymentStatus.FAILED
        await session.flush()
        return payment
    payment.status = PaymentStatus.SUCCEEDED
    order = await order_for_update(session, payment.order_id)
    if order.status != OrderStatus.PENDING_PAYMENT:
        # Paid after expiry or cancellation: the money must go back; staff see this in the audit log.
        await audit.record(session, actor_id=None, action="payment.after_close", subject_type="Order",
                           subject_id=order.id, details={"payment": payment.provider_ref, "status": order.status.value})
        await session.flush()
        return payment
    order.status = OrderStatus.PAID
    order.paid_at = now
    if order.attributed_distributor_id is not None:
        attributed = await session.get(Distributor, order.attributed_distributor_id)
        order.attributed_path = attributed.path if attributed else None
    items = (await items_of(session, [order.id]))[order.id]
    await commission.create_for_order(session, order, items)
    await emit_order_event(session, order, "paid")
    return payment


async def sandbox_pay(session: AsyncSession, viewer: Viewer, provider: SandboxPaymentProvider, *, order_id: int,
                      outcome: str) -> tuple[Order, Payment]:
    """Development payment: the sandbox "bank" answers at once (SUCCEED, FAIL or CALLBACK_TWICE)."""
    order, payment = await start_payment(session, viewer, provider, order_id=order_id)
    body, signature = provider.callback_body(payment.provider_ref, payment.amount_fen, outcome != "FAIL")
    for _ in range(2 if outcome == "CALLBACK_TWICE" else 1):
        await handle_payment_callback(session, provider, body, signature)
    await session.refresh(order)
    return order, payment
