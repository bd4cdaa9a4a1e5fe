"""The GraphQL context: the viewer for a request or WebSocket connection, and the current
operation's database session and dataloaders.

A WebSocket connection shares one context across its operations, so everything that must
belong to a single operation (session, loaders) lives in the operation scope
(core.operation), which the OperationScope extension opens for the task running that operation.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from auth.viewer import Viewer, anonymous
from core.operation import OperationScope, current_scope
from server.state import AppState


@dataclass
class Context:
    state: AppState
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    viewer: Viewer = field(default_factory=lambda: anonymous(None))
    ip: str = "unknown"
    transport: str = "http"
    # Set by a sign-in mutation, so its payload can show the new user their own data.
    signed_in_user_id: int | None = None
    # graphql-transport-ws and graphql-ws put the connection_init payload here.
    connection_params: dict[str, Any] | None = None
    request: Any = None
    response: Any = None

    def expire_viewer_if_due(self, now) -> None:
        """A WebSocket connection outlives its access token: once the token has expired, the
        connection's later operations run as an anonymous viewer."""
        expires_at = self.viewer.expires_at
        if self.transport == "ws" and expires_at is not None and now >= expires_at:
            self.viewer = anonymous(self.viewer.client, "expired")

    @property
    def scope(self) -> OperationScope:
        scope = current_scope.get()
        if scope is None:
            raise RuntimeError("No operation scope is open")
        return scope

    @property
    def session(self) -> AsyncSession:
        return self.scope.session

    def loader(self, name: str, factory):
        """The operation's dataloader called `name`, created on first use."""
        loaders = self.scope.loaders
        if name not in loaders:
            loaders[name] = factory(self)
        return loaders[name]
