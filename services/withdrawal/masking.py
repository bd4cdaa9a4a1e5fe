"""Payout account numbers: validated and normalised on entry, encrypted at rest, masked for
display, and hashed so the same account cannot be added twice."""

from __future__ import annotations

import hashlib
import hmac
import re

from core.config import Settings
from core.crypto import decrypt_field, encrypt_field
from core.errors import ErrorCode, ServiceError
from models.withdrawal import PayoutMethod

# Bound into the encryption as associated data: a number sealed for a payout account cannot be
# passed off as another kind of encrypted field.
NUMBER_CONTEXT = "payout_account"

_BANK_CARD_RE = re.compile(r"^\d{12,19}$")
_PHONE_RE = re.compile(r"^1[3-9]\d{9}$")
_EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")


def mask_bank_card(number: str) -> str:
    return f"{number[:4]} **** **** {number[-4:]}"


def mask_alipay(account: str) -> str:
    if "@" in account:
        local, _, domain = account.partition("@")
        return f"{local[:1]}***@{domain}"
    return account[:3] + "****" + account[-4:]


def mask_openid(openid: str) -> str:
    if len(openid) <= 8:
        return "*" * len(openid)
    return openid[:4] + "****" + openid[-4:]


def mask_number(method: PayoutMethod, number: str) -> str:
    return {PayoutMethod.BANK_CARD: mask_bank_card, PayoutMethod.ALIPAY: mask_alipay,
            PayoutMethod.WECHAT: mask_openid}[method](number)


def normalize_number(method: PayoutMethod, number: str | None) -> str:
    raw = (number or "").strip()
    if method == PayoutMethod.BANK_CARD:
        digits = re.sub(r"[\s-]", "", raw)
        if not _BANK_CARD_RE.match(digits):
            raise ServiceError(ErrorCode.INVALID_ACCOUNT_NUMBER, "A bank card number has 12 to 19 digits.",
                               "accountNumber")
        return digits
    if method == PayoutMethod.ALIPAY:
        account = raw.lower() if "@" in raw else re.sub(r"[\s-]", "", raw)
        if not (_PHONE_RE.match(account) or _EMAIL_RE.match(account)):
            raise ServiceError(ErrorCode.INVALID_ACCOUNT_NUMBER,
                               "An Alipay account is a mainland mobile number or an e-mail address.",
                               "accountNumber")
        return account
    return raw


def number_hash(settings: Settings, method: PayoutMethod, number: str) -> str:
    return hmac.new(("payout-account:" + settings.field_encryption_key).encode(),
                    f"{method.value}:{number}".encode(), hashlib.sha256).hexdigest()


def encrypt_number(settings: Settings, number: str) -> str:
    return encrypt_field(settings.field_encryption_key, number, context=NUMBER_CONTEXT)


def decrypt_number(settings: Settings, encrypted: str) -> str:
    return decrypt_field(settings.field_encryption_key, encrypted, context=NUMBER_CONTEXT)


def plain_name(name: str | None) -> str:
    """A name as compared with the verified real name: no spaces or middle dots, any case."""
    return re.sub(r"[\s·•.]", "", name or "").casefold()
