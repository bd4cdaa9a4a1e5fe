"""Accounts: users, the viewer, sign-in payloads."""

from __future__ import annotations

from datetime import datetime

import strawberry

from models.account import User as UserModel
from schema.base import ClientKind, Node, Permission, UserError
from services import account as account_service


@strawberry.type(description="A person using the product: customer, distributor or staff.")
class User(Node):
    nickname: str
    is_staff: bool
    created_at: datetime

    @strawberry.field(description="The phone number; masked (138****1234) unless it is yours or you are staff.")
    def phone(self, info: strawberry.Info) -> str | None:
        return account_service.phone_as_seen_by(info.context.viewer, self.id, self.phone,
                                                signed_in_user_id=info.context.signed_in_user_id)

    @classmethod
    def is_type_of(cls, obj, _info) -> bool:
        return isinstance(obj, (cls, UserModel))


@strawberry.type(description="Who is asking: the signed-in user (if any), their client and permissions.")
class Viewer:
    user: User | None
    client: ClientKind
    is_authenticated: bool
    permissions: list[Permission]


@strawberry.type
class AuthPayload:
    user: User | None = None
    access_token: str | None = strawberry.field(default=None, description="A short-lived JWT; send it as `Authorization: Bearer <token>`.")
    access_token_expires_at: datetime | None = None
    refresh_token: str | None = strawberry.field(default=None, description="Single use: exchange it with refreshToken for a new pair.")
    refresh_token_expires_at: datetime | None = None
    is_new_user: bool = False
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class LogoutPayload:
    ended_sessions: int = 0
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class StaffPayload:
    user: User | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class RegisterInput:
    phone: str
    password: str
    nickname: str | None = None


@strawberry.input
class LoginInput:
    phone: str
    password: str


@strawberry.input
class WeChatLoginInput:
    code: str = strawberry.field(description="The code from wx.login().")
    nickname: str | None = None


@strawberry.input
class StaffPermissionsInput:
    user_id: strawberry.ID
    permissions: list[Permission]
    reason: str
