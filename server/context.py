"""The GraphQL context: the viewer for a request or WebSocket connection, and the current
operation's database session and dataloaders.

A WebSocket connection shares one context across its operations, so everything that must
belong to a single operation (session, loaders) lives in a context variable that the
OperationScope extension sets for the task running that operation.
"""

from __future__ import annotations

import uuid
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from auth.viewer import Viewer, anonymous
from server.state import AppState


class OperationScope:
    def __init__(self, state: AppState, *, is_write) -> None:
        self._state = state
        self._is_write = is_write  # asked when the session opens: the document is parsed by then
        self._write = False
        self._session: AsyncSession | None = None
        self.loaders: dict[str, Any] = {}

    @property
    def session(self) -> AsyncSession:
        if self._session is None:
            self._write = bool(self._is_write())
            maker = self._state.writer_sessionmaker if self._write else self._state.sessionmaker
            self._session = maker()
        return self._session

    async def finish(self, success: bool) -> None:
        if self._session is None:
            return
        try:
            if success and self._write:
                await self._session.commit()
            else:
                await self._session.rollback()
        finally:
            await self._session.close()
            self._session = None


current_scope: ContextVar[OperationScope | None] = ContextVar("current_scope", default=None)


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
