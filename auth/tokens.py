"""Short-lived JWT access tokens and opaque refresh tokens (stored only as hashes)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt

from auth.permissions import ClientKind

ALGORITHM = "HS256"


@dataclass(frozen=True)
class AccessClaims:
    user_id: int
    family_id: str
    client: ClientKind
    expires_at: datetime


class InvalidAccessToken(Exception):
    pass


def issue_access_token(secret: str, *, user_id: int, family_id: str, client: ClientKind,
                       now: datetime, ttl_seconds: int) -> tuple[str, datetime]:
    expires_at = now + timedelta(seconds=ttl_seconds)
    payload = {
        "sub": str(user_id),
        "fam": family_id,
        "cli": client.value,
        "typ": "access",
        "iat": int(now.timestamp()),
        "exp": int(expires_at.timestamp()),
    }
    return jwt.encode(payload, secret, algorithm=ALGORITHM), expires_at


def decode_access_token(secret: str, token: str) -> AccessClaims:
    try:
        payload = jwt.decode(token, secret, algorithms=[ALGORITHM], options={"require": ["exp", "sub"]})
    except jwt.ExpiredSignatureError as exc:
        raise InvalidAccessToken("expired") from exc
    except jwt.PyJWTError as exc:
        raise InvalidAccessToken("invalid") from exc
    client = ClientKind.parse(payload.get("cli"))
    if payload.get("typ") != "access" or client is None or not str(payload["sub"]).isdigit():
        raise InvalidAccessToken("invalid")
    return AccessClaims(
        user_id=int(payload["sub"]),
        family_id=str(payload.get("fam", "")),
        client=client,
        expires_at=datetime.fromtimestamp(payload["exp"]).astimezone(),
    )


def new_refresh_token() -> str:
    return secrets.token_urlsafe(32)


def new_family_id() -> str:
    return secrets.token_hex(16)


def hash_refresh_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
