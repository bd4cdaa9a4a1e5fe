"""Sign-up, sign-in, tokens, the viewer and staff accounts."""

from __future__ import annotations

import strawberry

from loaders.account import UserByIdLoader
from resolvers.base import decode_id, in_savepoint
from schema.account import (
    AuthPayload,
    LoginInput,
    LogoutPayload,
    RegisterInput,
    StaffPayload,
    StaffPermissionsInput,
    Viewer,
    WeChatLoginInput,
)
from services import account as account_service


def _auth_payload(info: strawberry.Info, tokens: account_service.IssuedTokens | None, errors,
                  is_new_user: bool = False) -> AuthPayload:
    if tokens is None:
        return AuthPayload(user_errors=errors)
    info.context.signed_in_user_id = tokens.user.id
    return AuthPayload(
        user=tokens.user,
        access_token=tokens.access_token,
        access_token_expires_at=tokens.access_expires_at,
        refresh_token=tokens.refresh_token,
        refresh_token_expires_at=tokens.refresh_expires_at,
        is_new_user=is_new_user,
    )


@strawberry.type
class AccountQuery:
    @strawberry.field(description="Who is asking. Works signed in or not.")
    async def viewer(self, info: strawberry.Info) -> Viewer:
        viewer = info.context.viewer
        user = None
        if viewer.user_id is not None:
            user = await UserByIdLoader(info.context).load(viewer.user_id)
        return Viewer(
            user=user,
            client=viewer.client,
            is_authenticated=viewer.is_authenticated,
            permissions=sorted(viewer.permissions, key=lambda p: p.value),
        )


@strawberry.type
class AccountMutation:
    @strawberry.mutation(description="Create an account with a phone number and password, and sign in. Sign-ups are limited per address.")
    async def register(self, info: strawberry.Info, input: RegisterInput) -> AuthPayload:
        ctx = info.context
        tokens, errors = await in_savepoint(info, lambda s: account_service.register(
            s, ctx.state.settings, ctx.state.limiter, phone=input.phone, password=input.password,
            nickname=input.nickname, client=ctx.viewer.client, ip=ctx.ip))
        return _auth_payload(info, tokens, errors, is_new_user=tokens is not None)

    @strawberry.mutation(description="Sign in with phone and password. Failed attempts are limited per phone and address, per address, and per phone across all addresses.")
    async def login(self, info: strawberry.Info, input: LoginInput) -> AuthPayload:
        ctx = info.context
        tokens, errors = await in_savepoint(info, lambda s: account_service.login(
            s, ctx.state.settings, ctx.state.limiter, phone=input.phone, password=input.password,
            client=ctx.viewer.client, ip=ctx.ip))
        return _auth_payload(info, tokens, errors)

    @strawberry.mutation(description="Sign in from the mini-program with a wx.login() code; creates the account on first visit.")
    async def wechat_login(self, info: strawberry.Info, input: WeChatLoginInput) -> AuthPayload:
        ctx = info.context
        result, errors = await in_savepoint(info, lambda s: account_service.wechat_login(
            s, ctx.state.settings, ctx.state.wechat, code=input.code, nickname=input.nickname,
            client=ctx.viewer.client))
        if result is None:
            return _auth_payload(info, None, errors)
        tokens, created = result
        return _auth_payload(info, tokens, errors, is_new_user=created)

    @strawberry.mutation(description="Exchange a refresh token for a new access and refresh token. "
                                     "Each refresh token works once; reusing one ends that sign-in everywhere.")
    async def refresh_token(self, info: strawberry.Info, refresh_token: str) -> AuthPayload:
        ctx = info.context
        tokens, errors = await in_savepoint(info, lambda s: account_service.refresh(
            s, ctx.state.settings, refresh_token=refresh_token))
        return _auth_payload(info, tokens, errors)

    @strawberry.mutation(description="End this sign-in (or, with everywhere, every sign-in of yours).")
    async def logout(self, info: strawberry.Info, everywhere: bool = False) -> LogoutPayload:
        ended, errors = await in_savepoint(info, lambda s: account_service.logout(
            s, info.context.viewer, everywhere=everywhere))
        return LogoutPayload(ended_sessions=ended or 0, user_errors=errors)

    @strawberry.mutation(description="Set a staff member's permissions (MANAGE_STAFF). Audited.")
    async def staff_permissions_update(self, info: strawberry.Info, input: StaffPermissionsInput) -> StaffPayload:
        async def action(session):
            user_id = decode_id(input.user_id, "User", "userId")
            return await account_service.update_staff_permissions(
                session, info.context.viewer, user_id=user_id,
                permissions=set(input.permissions), reason=input.reason)

        user, errors = await in_savepoint(info, action)
        return StaffPayload(user=user, user_errors=errors)
