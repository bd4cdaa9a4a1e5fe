"""The operation scope: what belongs to one GraphQL operation (its database session and its
dataloaders), kept in a context variable for the task running that operation.

A WebSocket connection shares one context across its operations, so anything that must belong
to a single operation lives here rather than on the context.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker


class SessionMakers(Protocol):
    """The part of the app state an operation needs: a reader and a writer session factory."""

    sessionmaker: async_sessionmaker[AsyncSession]
    writer_sessionmaker: async_sessionmaker[AsyncSession]


class OperationScope:
    def __init__(self, state: SessionMakers, *, is_write: Callable[[], bool]) -> None:
        self._state = state
        self._is_write = is_write  # asked when the session opens: the document is parsed by then
        self._write = False
        self._session: AsyncSession | None = None
        self.loaders: dict[Any, Any] = {}

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

    async def release(self) -> None:
        """Close the session without committing and forget the loaders' caches; the next use
        opens a fresh session (a subscription does this between events)."""
        await self.finish(success=False)
        self.loaders.clear()


current_scope: ContextVar[OperationScope | None] = ContextVar("current_scope", default=None)


async def release_current_scope() -> None:
    """Release the running operation's scope, if one is open."""
    scope = current_scope.get()
    if scope is not None:
        await scope.release()
