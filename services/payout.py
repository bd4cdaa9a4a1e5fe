"""Payout providers: how approved withdrawals reach the distributor's bank card, WeChat or Alipay.

A provider is asked to pay once per withdrawal (with our unique reference, so a retried call
cannot pay twice on its side) and answers PAID, FAILED or PENDING; a PENDING payout is
settled later by the provider's callback (services.withdrawal.payout.apply_payout_result).

The sandbox provider ships for development and tests. It decides by the account number:
  - numbers starting with "fail" or ending in "4002" fail,
  - numbers starting with "late" or ending in "4003" answer PENDING (settle by callback),
  - everything else is paid at once.
Tests may also script an outcome per reference with `script(reference, status)`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field
from typing import Protocol

from models.withdrawal import PayoutMethod, PayoutResultStatus


@dataclass(frozen=True)
class PayoutOrder:
    reference: str
    method: PayoutMethod
    account_number: str
    holder_name: str
    bank_name: str | None
    net_fen: int


@dataclass(frozen=True)
class PayoutAnswer:
    status: PayoutResultStatus
    transaction_id: str | None = None
    message: str | None = None


class PayoutProvider(Protocol):
    name: str

    async def pay(self, order: PayoutOrder) -> PayoutAnswer:
        """Start (or look up, for a reference seen before) the transfer of `order.net_fen`."""


@dataclass
class SandboxPayoutProvider:
    name: str = "sandbox"
    scripted: dict[str, PayoutResultStatus] = field(default_factory=dict)
    orders: dict[str, PayoutOrder] = field(default_factory=dict)

    def script(self, reference: str, status: PayoutResultStatus) -> None:
        self.scripted[reference] = status

    async def pay(self, order: PayoutOrder) -> PayoutAnswer:
        self.orders.setdefault(order.reference, order)
        number = order.account_number.lower()
        status = self.scripted.get(order.reference)
        if status is None:
            if number.startswith("fail") or number.endswith("4002"):
                status = PayoutResultStatus.FAILED
            elif number.startswith("late") or number.endswith("4003"):
                status = PayoutResultStatus.PENDING
            else:
                status = PayoutResultStatus.PAID
        message = {PayoutResultStatus.FAILED: "The receiving account refused the transfer (sandbox).",
                   PayoutResultStatus.PENDING: "Accepted; the result follows by callback (sandbox)."}.get(status)
        return PayoutAnswer(status=status, transaction_id=f"sbx-{order.reference}", message=message)


# ---------------------------------------------------------------- sandbox callbacks

SIGNATURE_HEADER = "x-sandbox-signature"


def sign_callback(secret: str, body: bytes) -> str:
    return hmac.new(("payout-callback:" + secret).encode(), body, hashlib.sha256).hexdigest()


def verify_callback(secret: str, body: bytes, signature: str | None) -> bool:
    return bool(signature) and hmac.compare_digest(sign_callback(secret, body), signature)


def callback_body(reference: str, status: PayoutResultStatus, transaction_id: str | None = None,
                  message: str | None = None) -> bytes:
    """The JSON the sandbox provider posts to /callbacks/payout/sandbox."""
    return json.dumps({"reference": reference, "status": status.value, "transactionId": transaction_id,
                       "message": message}, separators=(",", ":")).encode()
