"""The viewer: who is making this request, from which client, with which permissions."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from auth.permissions import ClientKind, Permission
from auth.tokens import InvalidAccessToken, decode_access_token
from core.errors import ErrorCode, NotAuthenticated, PermissionDenied, ServiceError
from models.account import RefreshToken, User


@dataclass(frozen=True)
class Viewer:
    user_id: int | None = None
    client: ClientKind = ClientKind.H5
    is_staff: bool = False
    permissions: frozenset[Permission] = field(default_factory=frozenset)
    family_id: str | None = None
    # Why an Authorization header was not accepted ("expired", "invalid"), for clearer errors.
    token_problem: str | None = None
    # When the access token this viewer came from expires (None: no token); live subscriptions end then.
    expires_at: datetime | None = None

    @property
    def is_authenticated(self) -> bool:
        return self.user_id is not None

    def has(self, permission: Permission) -> bool:
        return self.is_staff and permission in self.permissions

    def require_user(self) -> int:
        if self.user_id is None:
            if self.token_problem == "expired":
                raise ServiceError(ErrorCode.TOKEN_EXPIRED, "Your access token has expired; refresh it and try again.")
            raise NotAuthenticated()
        return self.user_id

    def require(self, permission: Permission) -> int:
        user_id = self.require_user()
        if not self.has(permission):
            raise PermissionDenied(f"This needs the {permission.value} permission.")
        return user_id


def anonymous(client: ClientKind | None, token_problem: str | None = None) -> Viewer:
    return Viewer(client=client or ClientKind.H5, token_problem=token_problem)


async def load_viewer(session: AsyncSession, secret: str, token: str | None,
                      header_client: ClientKind | None) -> Viewer:
    """Resolve a bearer token into a viewer; a revoked login or disabled user is anonymous."""
    if not token:
        return anonymous(header_client)
    try:
        claims = decode_access_token(secret, token)
    except InvalidAccessToken as exc:
        return anonymous(header_client, str(exc))
    family_revoked = exists().where(
        RefreshToken.family_id == claims.family_id, RefreshToken.revoked_at.is_not(None)
    )
    row = (await session.execute(
        select(User, family_revoked.label("revoked"))
        .where(User.id == claims.user_id)
        .options(selectinload(User.permissions))
    )).first()
    if row is None or row.revoked or not row.User.is_active:
        return anonymous(header_client, "invalid")
    user = row.User
    permissions = frozenset(Permission(p.permission) for p in user.permissions) if user.is_staff else frozenset()
    return Viewer(
        user_id=user.id,
        client=claims.client,
        is_staff=user.is_staff,
        permissions=permissions,
        family_id=claims.family_id,
        expires_at=claims.expires_at.astimezone(UTC),
    )
