"""Payment providers. A provider starts a payment and signs the callback it later sends; the
callback endpoint verifies that signature before anything changes."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class PaymentCallback:
    provider_ref: str
    amount_fen: int
    succeeded: bool


class InvalidCallback(Exception):
    pass


class PaymentProvider(Protocol):
    name: str

    def new_reference(self) -> str: ...

    def parse_callback(self, body: bytes, signature: str | None) -> PaymentCallback:
        """Verify the signature and read the callback; raise InvalidCallback."""


class SandboxPaymentProvider:
    """Development and test provider: callbacks are JSON signed with HMAC-SHA256."""

    name = "sandbox"

    def __init__(self, secret: str) -> None:
        self._secret = hashlib.sha256(("sandbox-payment:" + secret).encode()).digest()

    def new_reference(self) -> str:
        return "sbx_" + secrets.token_hex(12)

    def sign(self, body: bytes) -> str:
        return hmac.new(self._secret, body, hashlib.sha256).hexdigest()

    def callback_body(self, provider_ref: str, amount_fen: int, succeeded: bool) -> tuple[bytes, str]:
        """What the sandbox "bank" would send for a payment: the body and its signature."""
        body = json.dumps({"ref": provider_ref, "amount": amount_fen,
                           "result": "SUCCESS" if succeeded else "FAIL"}, separators=(",", ":")).encode()
        return body, self.sign(body)

    def parse_callback(self, body: bytes, signature: str | None) -> PaymentCallback:
        if not signature or not hmac.compare_digest(self.sign(body), signature):
            raise InvalidCallback("bad signature")
        try:
            data = json.loads(body)
            ref, amount, result = data["ref"], data["amount"], data["result"]
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidCallback("malformed body") from exc
        if not isinstance(ref, str) or not isinstance(amount, int) or result not in ("SUCCESS", "FAIL"):
            raise InvalidCallback("malformed body")
        return PaymentCallback(provider_ref=ref, amount_fen=amount, succeeded=result == "SUCCESS")
