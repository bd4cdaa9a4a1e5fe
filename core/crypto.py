"""Field encryption (AES-GCM) for ID card and account numbers, and masking for display."""

from __future__ import annotations

import base64
import hashlib
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_VERSION = "v1"


def _key(secret: str) -> bytes:
    # Derive a 256-bit key from the configured secret, whatever its length.
    return hashlib.sha256(("field-encryption:" + secret).encode()).digest()


def encrypt_field(secret: str, plaintext: str, *, context: str = "") -> str:
    """Encrypt `plaintext`; `context` (e.g. "id_card") is bound as associated data."""
    nonce = os.urandom(12)
    sealed = AESGCM(_key(secret)).encrypt(nonce, plaintext.encode(), context.encode())
    return f"{_VERSION}:" + base64.urlsafe_b64encode(nonce + sealed).decode()


def decrypt_field(secret: str, token: str, *, context: str = "") -> str:
    version, _, payload = token.partition(":")
    if version != _VERSION:
        raise ValueError("unknown encrypted field version")
    raw = base64.urlsafe_b64decode(payload.encode())
    return AESGCM(_key(secret)).decrypt(raw[:12], raw[12:], context.encode()).decode()


def mask_id_card(number: str | None) -> str | None:
    """110101********1234 style: keep the first 3 and last 4 characters."""
    if not number:
        return number
    if len(number) <= 7:
        return "*" * len(number)
    return number[:3] + "*" * (len(number) - 7) + number[-4:]


def mask_name(name: str | None) -> str | None:
    """张** style: keep the first character of a real name."""
    if not name:
        return name
    return name[0] + "*" * (len(name) - 1)
