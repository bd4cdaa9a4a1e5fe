"""Subscriptions in tests: one WebSocket subscription for either protocol, and waiting until the
hub has registered the subscribers a test opened."""

from __future__ import annotations

import asyncio
import contextlib

import pytest


class Live:
    """A subscription over one WebSocket, for either protocol."""

    def __init__(self, ws, protocol: str) -> None:
        self.ws = ws
        self.protocol = protocol

    async def init(self, token: str) -> dict:
        await self.ws.send_json({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}})
        return await self.ws.receive_json()

    async def subscribe(self, query: str, variables: dict | None = None, op_id: str = "1") -> None:
        kind = "subscribe" if self.protocol == "graphql-transport-ws" else "start"
        await self.ws.send_json({"id": op_id, "type": kind, "payload": {"query": query, "variables": variables or {}}})

    async def receive(self, timeout: float = 5) -> dict:
        while True:
            message = await self.ws.receive_json(timeout=timeout)
            if message["type"] not in ("ka", "ping", "pong"):
                return message

    async def next_event(self, timeout: float = 5) -> dict:
        message = await self.receive(timeout)
        assert message["type"] in ("next", "data"), message
        assert "errors" not in message["payload"], message
        return next(iter(message["payload"]["data"].values()))

    async def nothing(self, seconds: float = 0.4) -> None:
        with pytest.raises(TimeoutError):
            message = await self.receive(seconds)
            pytest.fail(f"unexpected message {message}")


@contextlib.asynccontextmanager
async def live(client, token: str, protocol: str = "graphql-transport-ws"):
    async with client.websocket(protocol) as ws:
        subscription = Live(ws, protocol)
        ack = await subscription.init(token)
        assert ack["type"] == "connection_ack", ack
        yield subscription


async def wait_for_subscribers(state, count: int) -> None:
    for _ in range(100):
        if len(state.hub.subscribers) >= count:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"expected {count} live subscribers, have {len(state.hub.subscribers)}")
