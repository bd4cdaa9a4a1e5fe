"""Test helpers: a GraphQL client (HTTP and WebSocket over ASGI) and a SQL statement counter."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any

import httpx
from httpx_ws import aconnect_ws
from httpx_ws.transport import ASGIWebSocketTransport

BASE_URL = "http://testserver"


@dataclass
class StatementCounter:
    statements: list[str] = field(default_factory=list)

    def on_execute(self, conn, cursor, statement, parameters, context, executemany):
        if not statement.lstrip().upper().startswith(("BEGIN", "SAVEPOINT", "RELEASE", "ROLLBACK", "COMMIT")):
            self.statements.append(statement)

    def reset(self) -> None:
        self.statements.clear()

    @property
    def count(self) -> int:
        return len(self.statements)


class GraphQLClient:
    def __init__(self, app, http: httpx.AsyncClient) -> None:
        self.app = app
        self.http = http
        self.token: str | None = None

    @classmethod
    @contextlib.asynccontextmanager
    async def open(cls, app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http:
            yield cls(app, http)

    def _headers(self, token: str | None, headers: dict[str, str] | None) -> dict[str, str]:
        result = {"content-type": "application/json"}
        token = token if token is not None else self.token
        if token:
            result["authorization"] = f"Bearer {token}"
        result.update(headers or {})
        return result

    async def post(self, query: str, variables: dict[str, Any] | None = None, *, token: str | None = None,
                   headers: dict[str, str] | None = None, operation_name: str | None = None,
                   extensions: dict | None = None) -> httpx.Response:
        body: dict[str, Any] = {"query": query}
        if variables is not None:
            body["variables"] = variables
        if operation_name:
            body["operationName"] = operation_name
        if extensions:
            body["extensions"] = extensions
        return await self.http.post("/graphql", json=body, headers=self._headers(token, headers))

    async def execute(self, query: str, variables: dict[str, Any] | None = None, **kwargs) -> dict[str, Any]:
        """Run an operation that must succeed without GraphQL errors; returns `data`."""
        response = await self.post(query, variables, **kwargs)
        body = response.json()
        assert response.status_code == 200, body
        assert "errors" not in body, body["errors"]
        return body["data"]

    async def errors(self, query: str, variables: dict[str, Any] | None = None, **kwargs) -> list[dict]:
        """Run an operation that must fail with GraphQL errors; returns them."""
        body = (await self.post(query, variables, **kwargs)).json()
        assert body.get("errors"), body
        return body["errors"]

    @contextlib.asynccontextmanager
    async def websocket(self, protocol: str, **kwargs):
        """A WebSocket to /graphql; open it inside the test body (its transport runs a task group)."""
        async with httpx.AsyncClient(transport=ASGIWebSocketTransport(self.app), base_url=BASE_URL) as http:
            async with aconnect_ws(f"{BASE_URL}/graphql", http, subprotocols=[protocol], **kwargs) as ws:
                yield ws
