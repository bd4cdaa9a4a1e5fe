"""Orders: placement with attribution and stock, payment and its callback, shipping,
completion, cancellation, expiry and refunds. One concern per module:

- placing: attribution, prices, the band floor, stock reserved
- payments: the provider payment, its verified callback, the sandbox shortcut
- lifecycle: shipping, completion, cancellation, expiry
- refunds: requests and their review
- access: who sees an order, and how much of its buyer
- listing: order lists
- lookup, events: orders by id, the live event each change emits

The names below are the ones callers outside the order layer use (jobs, the payment callback
endpoint, tests, benchmarks).
"""

from models.order import Order
from services.order.lifecycle import cancel, complete_shipped, confirm_receipt, expire_unpaid, ship
from services.order.payments import handle_payment_callback, sandbox_pay, start_payment
from services.order.placing import ItemRequest, Shipping, place_order
from services.order.refunds import request_refund, review_refund

__all__ = ["ItemRequest", "Order", "Shipping", "cancel", "complete_shipped", "confirm_receipt", "expire_unpaid",
           "handle_payment_callback", "place_order", "request_refund", "review_refund", "sandbox_pay", "ship",
           "start_payment"]
