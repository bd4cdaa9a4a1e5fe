"""GraphQL over WebSocket (graphql-transport-ws and graphql-ws), authenticated in connection_init."""

from __future__ import annotations

from datetime import timedelta

from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL

from auth.permissions import ClientKind
from auth.viewer import load_viewer
from server.client_ip import request_client_ip
from server.context import Context
from server.ws_guard import CLOSE_TOO_MANY, ConnectionGuard

_CONNECTION_KEY = "fenxiao.websocket"


def connection_token(params: dict | None) -> str | None:
    """The access token a client put in its connection_init payload."""
    params = params or {}
    raw = params.get("authorization") or params.get("Authorization") or params.get("token")
    if not isinstance(raw, str) or not raw.strip():
        return None
    scheme, _, rest = raw.strip().partition(" ")
    return rest.strip() if scheme.lower() == "bearer" and rest.strip() else raw.strip()


class GraphQLWebSocket(GraphQL):
    def __init__(self, schema, state) -> None:
        settings = state.settings
        super().__init__(
            schema,
            graphql_ide=None,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL),
            connection_init_wait_timeout=timedelta(seconds=settings.connection_init_timeout_seconds),
            max_subscriptions_per_connection=settings.max_subscriptions_per_connection,
            allowed_origins=settings.cors_origins,
        )
        self.state = state
        self.guard = ConnectionGuard(state.sessionmaker, per_user=settings.max_websockets_per_user,
                                     per_ip=settings.max_websockets_per_ip)

    async def get_context(self, request, response) -> Context:
        ip = request_client_ip(request, self.state.settings.forwarded_allow_ips)
        return Context(state=self.state, transport="ws", ip=ip, request=request, response=response)

    async def on_ws_connect(self, context: Context):
        token = connection_token(context.connection_params)
        if token is None:
            raise ConnectionRejectionError({"message": "Send an access token in connection_init "
                                                       "as {\"authorization\": \"Bearer <token>\"}."})
        header_client = ClientKind.parse((context.connection_params or {}).get("client"))
        async with self.state.sessionmaker() as session:
            viewer = await load_viewer(session, self.state.settings.secret_key, token, header_client)
        if not viewer.is_authenticated:
            raise ConnectionRejectionError({"message": "The access token is invalid or has expired."})
        context.viewer = viewer
        connection = context.request.scope.get(_CONNECTION_KEY)
        if connection is not None and not self.guard.authenticate(connection, context, context.request):
            raise ConnectionRejectionError({"message": "Too many open connections for this account.",
                                            "code": "TOO_MANY_CONNECTIONS"})
        return {"viewerId": str(viewer.user_id)}

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "websocket":
            await super().__call__(scope, receive, send)
            return
        ip = request_client_ip(WebSocket(scope, receive, send), self.state.settings.forwarded_allow_ips)
        connection = self.guard.open(ip)
        if connection is None:
            # Accept, then close with a code the client can read (a refused handshake is only a 403).
            websocket = WebSocket(scope, receive, send)
            offered = scope.get("subprotocols") or []
            await websocket.accept(subprotocol=offered[0] if offered else None)
            await websocket.close(code=CLOSE_TOO_MANY, reason="TOO_MANY_CONNECTIONS")
            return
        scope[_CONNECTION_KEY] = connection
        metrics = self.state.metrics
        metrics.open_websockets.inc()
        try:
            await super().__call__(scope, receive, send)
        finally:
            metrics.open_websockets.dec()
            self.guard.close(connection)
