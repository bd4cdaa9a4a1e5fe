"""GraphQL over WebSocket with both protocols, authenticated in connection_init."""

from __future__ import annotations

import pytest
from httpx_ws import WebSocketDisconnect

from tests.factories import register

VIEWER = "query { viewer { isAuthenticated user { id } } }"


async def test_graphql_transport_ws_runs_an_operation_as_the_token_viewer(client):
    payload = await register(client)
    async with client.websocket("graphql-transport-ws") as ws:
        await ws.send_json({"type": "connection_init", "payload": {"authorization": f"Bearer {payload['accessToken']}"}})
        ack = await ws.receive_json()
        assert ack["type"] == "connection_ack"
        await ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": VIEWER}})
        message = await ws.receive_json()
        assert message == {"id": "1", "type": "next", "payload": {
            "data": {"viewer": {"isAuthenticated": True, "user": {"id": payload["user"]["id"]}}},
            "extensions": {"cost": {"requested": 4, "maximum": 10000}}}}
        assert (await ws.receive_json()) == {"id": "1", "type": "complete"}


async def test_graphql_ws_legacy_protocol_authenticates_and_serves_subscriptions_only(client):
    payload = await register(client)
    async with client.websocket("graphql-ws") as ws:
        await ws.send_json({"type": "connection_init", "payload": {"authorization": payload["accessToken"]}})
        assert (await ws.receive_json())["type"] == "connection_ack"
        # The legacy protocol carries subscriptions; queries and mutations belong on HTTP.
        await ws.send_json({"id": "7", "type": "start", "payload": {"query": VIEWER}})
        message = await ws.receive_json()
        assert message["type"] == "error" and message["id"] == "7"


@pytest.mark.parametrize("connection_payload", [{}, {"authorization": "Bearer not-a-token"}])
async def test_connection_without_a_valid_token_is_refused(client, connection_payload):
    async with client.websocket("graphql-transport-ws") as ws:
        await ws.send_json({"type": "connection_init", "payload": connection_payload})
        with pytest.raises(WebSocketDisconnect) as closed:
            await ws.receive_json()
    assert closed.value.code == 4403


async def test_legacy_connection_without_a_token_gets_a_connection_error(client):
    async with client.websocket("graphql-ws") as ws:
        await ws.send_json({"type": "connection_init", "payload": {}})
        message = await ws.receive_json()
        assert message["type"] == "connection_error"
        assert "access token" in message["payload"]["message"]


async def test_open_websockets_are_counted(client, app_state):
    payload = await register(client)
    async with client.websocket("graphql-transport-ws") as ws:
        await ws.send_json({"type": "connection_init", "payload": {"authorization": payload["accessToken"]}})
        await ws.receive_json()
        assert app_state.metrics.open_websockets._value.get() == 1
    assert app_state.metrics.open_websockets._value.get() == 0


async def test_operations_after_the_token_expires_run_anonymous(client, settings):
    import asyncio

    import jwt

    from auth.permissions import ClientKind
    from auth.tokens import issue_access_token
    from core.ids import decode_global_id
    from models.base import utcnow

    payload = await register(client)
    claims = jwt.decode(payload["accessToken"], settings.secret_key, algorithms=["HS256"])
    short, _ = issue_access_token(settings.secret_key, user_id=decode_global_id(payload["user"]["id"])[1],
                                  family_id=claims["fam"], client=ClientKind.APP, now=utcnow(), ttl_seconds=1)
    async with client.websocket("graphql-transport-ws") as ws:
        await ws.send_json({"type": "connection_init", "payload": {"authorization": f"Bearer {short}"}})
        assert (await ws.receive_json())["type"] == "connection_ack"
        await ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": VIEWER}})
        assert (await ws.receive_json())["payload"]["data"]["viewer"]["isAuthenticated"] is True
        await ws.receive_json()  # complete
        await asyncio.sleep(1.2)
        await ws.send_json({"id": "2", "type": "subscribe", "payload": {"query": VIEWER}})
        assert (await ws.receive_json())["payload"]["data"]["viewer"] == {"isAuthenticated": False, "user": None}
