"""The transport as attackers push it: oversized and deeply nested bodies, forged forwarding
headers, junk persisted queries, Redis gone, and sockets that outlive a logout."""

from __future__ import annotations

import asyncio
import hashlib
import json

import httpx
import pytest
from httpx_ws import WebSocketDisconnect

from tests.factories import PASSWORD, register
from tests.support import GraphQLClient

VIEWER = "query { viewer { isAuthenticated user { id } } }"


def _sha(document: str) -> str:
    return hashlib.sha256(document.encode()).hexdigest()


async def test_a_json_body_nested_fifty_thousand_levels_is_a_400(client):
    body = "[" * 50_000 + "]" * 50_000
    response = await client.http.post("/graphql", content='{"query": "{ __typename }", "variables": {"a": '
                                      + body + "}}", headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "INVALID_JSON"


async def test_callbacks_refuse_a_huge_body_by_its_declared_length(client):
    response = await client.http.post("/callbacks/payment/sandbox", content=b"x" * 10,
                                      headers={"content-length": str(500 * 1024 * 1024)})
    assert response.status_code == 413


async def test_callbacks_cut_off_an_undeclared_body_past_the_limit(client):
    async def chunks():
        for _ in range(200):  # 200 × 64 KiB would be 12.5 MiB; reading stops after the first 64 KiB
            yield b"x" * 65_536

    response = await client.http.post("/callbacks/payment/sandbox", content=chunks())
    assert response.status_code == 413


async def test_persisted_queries_store_only_documents_that_validate(client):
    junk = "{ thisFieldDoesNotExist " + "x " * 100 + "}"
    first = await client.post(junk, extensions={"persistedQuery": {"version": 1, "sha256Hash": _sha(junk)}})
    assert first.json()["errors"]
    by_hash = await client.http.post("/graphql", json={"extensions": {"persistedQuery": {
        "version": 1, "sha256Hash": _sha(junk)}}}, headers={"content-type": "application/json"})
    assert by_hash.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
    good = "{ __typename }"
    await client.post(good, extensions={"persistedQuery": {"version": 1, "sha256Hash": _sha(good)}})
    hit = await client.http.post("/graphql", json={"extensions": {"persistedQuery": {
        "version": 1, "sha256Hash": _sha(good)}}}, headers={"content-type": "application/json"})
    assert hit.json()["data"] == {"__typename": "Query"}


async def test_persisted_queries_only_runs_known_hashes(make_client, tmp_path):
    known = "{ __typename }"
    allowlist = tmp_path / "allow.json"
    allowlist.write_text(json.dumps([known]))
    client = await make_client(persisted_queries_only=True, persisted_query_allowlist=str(allowlist))
    full_text = await client.post(known)
    assert full_text.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_ALLOWED"
    unknown = "{ viewer { client } }"
    registered = await client.post(unknown, extensions={"persistedQuery": {"version": 1, "sha256Hash": _sha(unknown)}})
    assert registered.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_ALLOWED"
    by_hash = await client.http.post("/graphql", json={"extensions": {"persistedQuery": {
        "version": 1, "sha256Hash": _sha(known)}}}, headers={"content-type": "application/json"})
    assert by_hash.json()["data"] == {"__typename": "Query"}


async def test_with_redis_unreachable_login_and_persisted_queries_degrade(make_client):
    client = await make_client(redis_url="redis://127.0.0.1:1/0", redis_pool_timeout_seconds=0.2)
    user = await register(client)
    login = await client.execute("mutation($i: LoginInput!) { login(input: $i) { accessToken userErrors { code } } }",
                                 {"i": {"phone": user["user"]["phone"], "password": PASSWORD}})
    assert login["login"]["accessToken"] and login["login"]["userErrors"] == []
    document = "{ __typename }"
    miss = await client.http.post("/graphql", json={"extensions": {"persistedQuery": {
        "version": 1, "sha256Hash": _sha(document)}}}, headers={"content-type": "application/json"})
    assert miss.status_code == 200
    assert miss.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
    retried = await client.post(document, extensions={"persistedQuery": {"version": 1, "sha256Hash": _sha(document)}})
    assert retried.json()["data"] == {"__typename": "Query"}


async def test_forwarded_for_is_believed_only_from_configured_proxies(make_client, app_state):
    from server.client_ip import client_ip

    assert client_ip("127.0.0.1", "203.0.113.9", ()) == "127.0.0.1"
    assert client_ip("10.0.0.5", "203.0.113.9", ("10.0.0.0/8",)) == "203.0.113.9"
    assert client_ip("10.0.0.5", "198.51.100.1, 203.0.113.9, 10.0.0.7", ("10.0.0.0/8",)) == "203.0.113.9"
    assert client_ip("192.0.2.1", "203.0.113.9", ("10.0.0.0/8",)) == "192.0.2.1"
    # Through the API: rotating X-Forwarded-For does not escape the per-address sign-up limit.
    client = await make_client(registrations_per_ip=3)
    codes = []
    for i in range(5):
        response = await client.post(
            "mutation($i: RegisterInput!) { register(input: $i) { userErrors { code } } }",
            {"i": {"phone": f"1370000{i:04d}", "password": PASSWORD}},
            headers={"x-forwarded-for": f"203.0.113.{i}"})
        codes.append([e["code"] for e in response.json()["data"]["register"]["userErrors"]])
    assert codes == [[], [], [], ["RATE_LIMITED"], ["RATE_LIMITED"]]


async def _open_socket(client: GraphQLClient, token: str):
    context = client.websocket("graphql-transport-ws")
    ws = await context.__aenter__()
    await ws.send_json({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}})
    return context, ws


async def test_logout_everywhere_closes_open_sockets_within_seconds(client):
    user = await register(client)
    async with client.websocket("graphql-transport-ws") as ws:
        await ws.send_json({"type": "connection_init", "payload": {"authorization": f"Bearer {user['accessToken']}"}})
        assert (await ws.receive_json())["type"] == "connection_ack"
        await client.execute("mutation { logout(everywhere: true) { endedSessions } }", token=user["accessToken"])
        with pytest.raises(WebSocketDisconnect) as closed:
            await asyncio.wait_for(ws.receive_json(), timeout=10)
        assert closed.value.code == 4403


async def test_a_user_holds_a_bounded_number_of_sockets(make_client):
    client = await make_client(max_websockets_per_user=2)
    user = await register(client)
    async with client.websocket("graphql-transport-ws") as first, client.websocket("graphql-transport-ws") as second:
        for ws in (first, second):
            await ws.send_json({"type": "connection_init", "payload": {"authorization": user["accessToken"]}})
            assert (await ws.receive_json())["type"] == "connection_ack"
        async with client.websocket("graphql-transport-ws") as third:
            await third.send_json({"type": "connection_init", "payload": {"authorization": user["accessToken"]}})
            with pytest.raises(WebSocketDisconnect) as closed:
                await third.receive_json()
            assert closed.value.code == 4403
    async with client.websocket("graphql-transport-ws") as again:  # the slots free up when sockets close
        await again.send_json({"type": "connection_init", "payload": {"authorization": user["accessToken"]}})
        assert (await again.receive_json())["type"] == "connection_ack"


async def test_an_address_holds_a_bounded_number_of_sockets(make_client):
    client = await make_client(max_websockets_per_ip=1)
    async with client.websocket("graphql-transport-ws") as first:
        async with client.websocket("graphql-transport-ws") as second:
            with pytest.raises(WebSocketDisconnect) as closed:
                await second.receive_json()
            assert closed.value.code == 4429
        assert first is not None


async def test_three_hundred_concurrent_requests_share_a_small_redis_pool(make_client, redis_url):
    # With Redis configured (the PostgreSQL + Redis run) ten connections serve 300 concurrent
    # persisted-query requests and sign-ins: requests wait for a free connection, none fails.
    client = await make_client(redis_max_connections=10)
    document = "{ __typename }"
    extensions = {"persistedQuery": {"version": 1, "sha256Hash": _sha(document)}}
    await client.post(document, extensions=extensions)
    user = await register(client)

    async def by_hash():
        return await client.http.post("/graphql", json={"extensions": extensions},
                                      headers={"content-type": "application/json"})

    async def sign_in():
        return await client.post("mutation($i: LoginInput!) { login(input: $i) { userErrors { code } } }",
                                 {"i": {"phone": user["user"]["phone"], "password": "wrong-password-1"}})

    responses = await asyncio.gather(*([by_hash() for _ in range(250)] + [sign_in() for _ in range(50)]))
    assert [r.status_code for r in responses] == [200] * 300
    assert all(r.json()["data"] == {"__typename": "Query"} for r in responses[:250])
    codes = {r.json()["data"]["login"]["userErrors"][0]["code"] for r in responses[250:]}
    assert codes <= {"INVALID_CREDENTIALS", "RATE_LIMITED"}
