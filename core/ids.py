"""Global object ids: base64 of "TypeName:pk", opaque to clients."""

from __future__ import annotations

import base64
import binascii


def encode_global_id(type_name: str, pk: int) -> str:
    return base64.urlsafe_b64encode(f"{type_name}:{pk}".encode()).decode().rstrip("=")


MAX_PK = 2**63 - 1  # a BIGINT column; anything larger names no row
MAX_GLOBAL_ID_LENGTH = 200


def decode_global_id(global_id: str) -> tuple[str, int] | None:
    if not isinstance(global_id, str) or len(global_id) > MAX_GLOBAL_ID_LENGTH:
        return None
    try:
        padded = global_id + "=" * (-len(global_id) % 4)
        type_name, _, pk = base64.urlsafe_b64decode(padded.encode()).decode().partition(":")
        if not type_name or not pk.isascii() or not pk.isdigit() or len(pk) > 19 or int(pk) > MAX_PK:
            return None
        return type_name, int(pk)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
