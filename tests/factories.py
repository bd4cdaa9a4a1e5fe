"""Arranging test data through the API, the way a client would."""

from __future__ import annotations

import itertools

from tests.support import GraphQLClient

PASSWORD = "s3cret-pass"
_phones = itertools.count(13900000000)

REGISTER = """
mutation($input: RegisterInput!) {
  register(input: $input) {
    accessToken refreshToken user { id phone nickname }
    userErrors { field code message }
  }
}"""


def next_phone() -> str:
    return str(next(_phones))


async def register(client: GraphQLClient, phone: str | None = None, nickname: str = "", **headers) -> dict:
    data = await client.execute(REGISTER, {"input": {"phone": phone or next_phone(), "password": PASSWORD,
                                                     "nickname": nickname}}, headers=headers or None)
    payload = data["register"]
    assert payload["userErrors"] == [], payload["userErrors"]
    return payload


async def staff(client: GraphQLClient, app_state, permissions: set[str] | None = None) -> dict:
    """A staff account with the given permissions (all when None), signed in."""
    from auth.permissions import Permission
    from services.account import create_staff

    phone = next_phone()
    perms = set(Permission) if permissions is None else {Permission(p) for p in permissions}
    async with app_state.sessionmaker() as session:
        await create_staff(session, phone=phone, password=PASSWORD, nickname="staff", permissions=perms,
                           actor_id=None)
        await session.commit()
    data = await client.execute(
        "mutation($i: LoginInput!) { login(input: $i) { accessToken user { id } userErrors { code } } }",
        {"i": {"phone": phone, "password": PASSWORD}})
    return data["login"]
