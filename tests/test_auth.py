"""Registration, sign-in, tokens, the viewer and staff permissions, through the GraphQL API."""

from __future__ import annotations

import jwt
from sqlalchemy import select

from models.audit import AuditEntry
from tests.factories import PASSWORD, REGISTER, next_phone, register, staff

LOGIN = """
mutation($input: LoginInput!) {
  login(input: $input) { accessToken refreshToken user { id phone } userErrors { field code message } }
}"""
REFRESH = """
mutation($t: String!) {
  refreshToken(refreshToken: $t) { accessToken refreshToken userErrors { field code message } }
}"""
VIEWER = "{ viewer { isAuthenticated client permissions user { id phone nickname isStaff } } }"


async def test_register_then_viewer_sees_own_unmasked_phone(client):
    phone = next_phone()
    payload = await register(client, phone, nickname="小明")
    assert payload["user"]["phone"] == phone
    data = await client.execute(VIEWER, token=payload["accessToken"])
    assert data["viewer"]["isAuthenticated"] is True
    assert data["viewer"]["user"] == {"id": payload["user"]["id"], "phone": phone, "nickname": "小明",
                                      "isStaff": False}
    assert data["viewer"]["permissions"] == []


async def test_anonymous_viewer(client):
    data = await client.execute(VIEWER)
    assert data["viewer"] == {"isAuthenticated": False, "client": "H5", "permissions": [], "user": None}


async def test_register_refusals(client):
    phone = next_phone()
    await register(client, phone)
    cases = [
        ({"phone": phone, "password": PASSWORD}, "PHONE_TAKEN", "phone"),
        ({"phone": "12345", "password": PASSWORD}, "INVALID_PHONE", "phone"),
        ({"phone": next_phone(), "password": "short1"}, "WEAK_PASSWORD", "password"),
        ({"phone": next_phone(), "password": "onlyletters"}, "WEAK_PASSWORD", "password"),
    ]
    for variables, code, field in cases:
        data = await client.execute(REGISTER, {"input": variables})
        assert data["register"]["accessToken"] is None
        assert [(e["code"], e["field"]) for e in data["register"]["userErrors"]] == [(code, field)]


async def test_wrong_password_and_unknown_phone_get_the_same_answer(client):
    phone = next_phone()
    await register(client, phone)
    wrong = (await client.execute(LOGIN, {"input": {"phone": phone, "password": "wrong-pass-1"}}))["login"]
    unknown = (await client.execute(LOGIN, {"input": {"phone": next_phone(), "password": "wrong-pass-1"}}))["login"]
    assert wrong == unknown
    assert wrong["userErrors"] == [{"field": None, "code": "INVALID_CREDENTIALS",
                                    "message": "The phone number or password is wrong."}]


async def test_login_rate_limited_per_phone(client, settings):
    phone = next_phone()
    await register(client, phone)
    for _ in range(settings.login_attempts_per_phone):
        data = await client.execute(LOGIN, {"input": {"phone": phone, "password": "wrong-pass-1"}})
        assert data["login"]["userErrors"][0]["code"] == "INVALID_CREDENTIALS"
    # Even the right password is refused once the phone's attempts are used up.
    data = await client.execute(LOGIN, {"input": {"phone": phone, "password": PASSWORD}})
    assert data["login"]["accessToken"] is None
    assert data["login"]["userErrors"][0]["code"] == "RATE_LIMITED"
    # Another phone from the same address still gets in.
    other = next_phone()
    await register(client, other)
    data = await client.execute(LOGIN, {"input": {"phone": other, "password": PASSWORD}})
    assert data["login"]["accessToken"]


async def test_login_rate_limited_per_ip(client, settings):
    for _ in range(settings.login_attempts_per_ip):
        await client.execute(LOGIN, {"input": {"phone": next_phone(), "password": "wrong-pass-1"}})
    phone = next_phone()
    await register(client, phone)
    data = await client.execute(LOGIN, {"input": {"phone": phone, "password": PASSWORD}})
    assert data["login"]["userErrors"][0]["code"] == "RATE_LIMITED"


async def test_successful_login_resets_phone_attempts(client, settings):
    phone = next_phone()
    await register(client, phone)
    for _ in range(settings.login_attempts_per_phone - 1):
        await client.execute(LOGIN, {"input": {"phone": phone, "password": "wrong-pass-1"}})
    assert (await client.execute(LOGIN, {"input": {"phone": phone, "password": PASSWORD}}))["login"]["accessToken"]
    for _ in range(settings.login_attempts_per_phone - 1):
        await client.execute(LOGIN, {"input": {"phone": phone, "password": "wrong-pass-1"}})
    assert (await client.execute(LOGIN, {"input": {"phone": phone, "password": PASSWORD}}))["login"]["accessToken"]


WECHAT = """
mutation($input: WeChatLoginInput!) {
  wechatLogin(input: $input) { accessToken isNewUser user { id nickname } userErrors { field code message } }
}"""


async def test_wechat_login_creates_then_finds_the_user(client):
    first = (await client.execute(WECHAT, {"input": {"code": "code-abc", "nickname": "微信用户"}},
                                  headers={"X-Client": "MINI_PROGRAM"}))["wechatLogin"]
    assert first["isNewUser"] is True and first["userErrors"] == []
    again = (await client.execute(WECHAT, {"input": {"code": "code-abc"}}))["wechatLogin"]
    assert again["isNewUser"] is False
    assert again["user"]["id"] == first["user"]["id"]
    viewer = await client.execute(VIEWER, token=first["accessToken"])
    assert viewer["viewer"]["client"] == "MINI_PROGRAM"


async def test_wechat_login_refuses_an_invalid_code(client):
    data = (await client.execute(WECHAT, {"input": {"code": "invalid-used"}}))["wechatLogin"]
    assert data["accessToken"] is None
    assert data["userErrors"][0]["code"] == "WECHAT_LOGIN_FAILED"
    assert data["userErrors"][0]["field"] == "code"


async def test_client_comes_from_token_else_header(client, settings):
    reg = await client.execute(REGISTER, {"input": {"phone": next_phone(), "password": PASSWORD}},
                               headers={"X-Client": "APP"})
    token = reg["register"]["accessToken"]
    claims = jwt.decode(token, settings.secret_key, algorithms=["HS256"])
    assert claims["cli"] == "APP"
    # The token's client wins over a header claiming another.
    data = await client.execute(VIEWER, token=token, headers={"X-Client": "PC"})
    assert data["viewer"]["client"] == "APP"
    data = await client.execute(VIEWER, headers={"X-Client": "pc"})
    assert data["viewer"]["client"] == "PC"


async def test_refresh_rotates_and_reuse_revokes_the_family(client):
    payload = await register(client)
    first_refresh = payload["refreshToken"]
    rotated = (await client.execute(REFRESH, {"t": first_refresh}))["refreshToken"]
    assert rotated["userErrors"] == [] and rotated["refreshToken"] != first_refresh
    # The new access token works.
    assert (await client.execute(VIEWER, token=rotated["accessToken"]))["viewer"]["isAuthenticated"]
    # Presenting the old refresh token again is reuse: refused, and the family is ended.
    reuse = (await client.execute(REFRESH, {"t": first_refresh}))["refreshToken"]
    assert reuse["userErrors"][0]["code"] == "TOKEN_REUSED"
    latest = (await client.execute(REFRESH, {"t": rotated["refreshToken"]}))["refreshToken"]
    assert latest["userErrors"][0]["code"] == "INVALID_TOKEN"
    # Access tokens of the revoked family stop working at once.
    assert (await client.execute(VIEWER, token=rotated["accessToken"]))["viewer"]["isAuthenticated"] is False


async def test_refresh_with_garbage_token(client):
    data = (await client.execute(REFRESH, {"t": "not-a-token"}))["refreshToken"]
    assert data["userErrors"] == [{"field": "refreshToken", "code": "INVALID_TOKEN",
                                   "message": "This refresh token is not valid; sign in again."}]


async def test_expired_refresh_token(client, app_state):
    from datetime import timedelta

    from sqlalchemy import update

    from models.account import RefreshToken
    from models.base import utcnow

    payload = await register(client)
    # Waiting out a 30-day token is not an option, and the API cannot shorten one: age it in place.
    async with app_state.sessionmaker() as session:
        await session.execute(update(RefreshToken).values(expires_at=utcnow() - timedelta(seconds=1)))
        await session.commit()
    data = (await client.execute(REFRESH, {"t": payload["refreshToken"]}))["refreshToken"]
    assert data["userErrors"][0]["code"] == "TOKEN_EXPIRED"


async def test_logout_ends_this_sign_in_only(client):
    phone = next_phone()
    first = await register(client, phone)
    second = (await client.execute(LOGIN, {"input": {"phone": phone, "password": PASSWORD}}))["login"]
    data = await client.execute("mutation { logout { endedSessions userErrors { code } } }", token=first["accessToken"])
    assert data["logout"] == {"endedSessions": 1, "userErrors": []}
    assert (await client.execute(VIEWER, token=first["accessToken"]))["viewer"]["isAuthenticated"] is False
    assert (await client.execute(REFRESH, {"t": first["refreshToken"]}))["refreshToken"]["userErrors"][0]["code"] == "INVALID_TOKEN"
    assert (await client.execute(VIEWER, token=second["accessToken"]))["viewer"]["isAuthenticated"] is True
    data = await client.execute("mutation { logout(everywhere: true) { endedSessions } }", token=second["accessToken"])
    assert data["logout"]["endedSessions"] == 1
    assert (await client.execute(VIEWER, token=second["accessToken"]))["viewer"]["isAuthenticated"] is False


async def test_logout_needs_a_sign_in(client):
    data = await client.execute("mutation { logout { endedSessions userErrors { code message } } }")
    assert data["logout"]["userErrors"] == [{"code": "NOT_AUTHENTICATED", "message": "Sign in first."}]


async def test_expired_access_token_is_anonymous_with_a_clear_reason(client, settings):
    import time

    payload = await register(client)
    claims = jwt.decode(payload["accessToken"], settings.secret_key, algorithms=["HS256"])
    claims["exp"] = int(time.time()) - 5
    expired = jwt.encode(claims, settings.secret_key, algorithm="HS256")
    assert (await client.execute(VIEWER, token=expired))["viewer"]["isAuthenticated"] is False
    data = await client.execute("mutation { logout { userErrors { code message } } }", token=expired)
    # A client can tell "refresh and retry" from "sign in".
    assert data["logout"]["userErrors"] == [{"code": "TOKEN_EXPIRED",
                                             "message": "Your access token has expired; refresh it and try again."}]
    forged = jwt.encode({**claims, "exp": int(time.time()) + 60}, "another-key-that-is-long-enough-0123456789", algorithm="HS256")
    assert (await client.execute(VIEWER, token=forged))["viewer"]["isAuthenticated"] is False


STAFF_UPDATE = """
mutation($input: StaffPermissionsInput!) {
  staffPermissionsUpdate(input: $input) { user { id isStaff } userErrors { field code message } }
}"""


async def test_staff_permissions_need_manage_staff_and_are_audited(client, app_state, db):
    admin = await staff(client, app_state)
    clerk = await staff(client, app_state, {"VIEW_REPORTS"})
    customer = await register(client)
    variables = {"input": {"userId": clerk["user"]["id"], "permissions": ["MANAGE_CATALOG", "VIEW_REPORTS"],
                           "reason": "runs the catalog now"}}
    for token, code in ((None, "NOT_AUTHENTICATED"), (customer["accessToken"], "FORBIDDEN"),
                        (clerk["accessToken"], "FORBIDDEN")):
        data = await client.execute(STAFF_UPDATE, variables, token=token)
        assert data["staffPermissionsUpdate"]["userErrors"][0]["code"] == code
    data = await client.execute(STAFF_UPDATE, variables, token=admin["accessToken"])
    assert data["staffPermissionsUpdate"]["userErrors"] == []
    viewer = await client.execute(VIEWER, token=clerk["accessToken"])
    assert viewer["viewer"]["permissions"] == ["MANAGE_CATALOG", "VIEW_REPORTS"]
    entries = (await db.scalars(select(AuditEntry).where(AuditEntry.action == "staff.permissions"))).all()
    assert len(entries) == 1
    assert entries[0].reason == "runs the catalog now"
    assert entries[0].details == {"before": ["VIEW_REPORTS"], "after": ["MANAGE_CATALOG", "VIEW_REPORTS"]}


async def test_staff_permissions_refusals(client, app_state):
    admin = await staff(client, app_state)
    customer = await register(client)
    base = {"permissions": ["VIEW_REPORTS"], "reason": "x"}
    cases = [
        ({**base, "userId": customer["user"]["id"]}, "NOT_FOUND", "userId"),
        ({**base, "userId": "not-an-id"}, "INVALID", "userId"),
        ({**base, "userId": admin["user"]["id"], "reason": " "}, "REQUIRED", "reason"),
        ({**base, "userId": admin["user"]["id"]}, "INVALID", "permissions"),
    ]
    for variables, code, field in cases:
        data = await client.execute(STAFF_UPDATE, {"input": variables}, token=admin["accessToken"])
        assert [(e["code"], e["field"]) for e in data["staffPermissionsUpdate"]["userErrors"]] == [(code, field)]


async def test_node_lookup_respects_access(client, app_state):
    alice = await register(client)
    bob = await register(client)
    admin = await staff(client, app_state, {"VIEW_REPORTS"})
    query = "query($id: ID!) { node(id: $id) { id ... on User { phone } } }"
    own = await client.execute(query, {"id": alice["user"]["id"]}, token=alice["accessToken"])
    assert own["node"]["phone"] == alice["user"]["phone"]
    other = await client.execute(query, {"id": alice["user"]["id"]}, token=bob["accessToken"])
    assert other["node"] is None
    anonymous = await client.execute(query, {"id": alice["user"]["id"]})
    assert anonymous["node"] is None
    by_staff = await client.execute(query, {"id": alice["user"]["id"]}, token=admin["accessToken"])
    assert by_staff["node"]["phone"] == alice["user"]["phone"]
    assert (await client.execute(query, {"id": "garbage"}, token=admin["accessToken"]))["node"] is None
