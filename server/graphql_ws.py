"""GraphQL over WebSocket (graphql-transport-ws and graphql-ws), authenticated in connection_init."""

from __future__ import annotations

from datetime import timedelta

from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL

from auth.permissions import ClientKind
from auth.viewer import load_viewer
from server.context import Context


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

    async def get_context(self, request, response) -> Context:
        ip = request.client.host if request.client else "unknown"
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
        return {"viewerId": str(viewer.user_id)}

    async def __call__(self, scope, receive, send) -> None:
        metrics = self.state.metrics
        metrics.open_websockets.inc()
        try:
            await super().__call__(scope, receive, send)
        finally:
            metrics.open_websockets.dec()
