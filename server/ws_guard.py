"""Who holds WebSocket connections, and how many: caps per user and per client address, and
the revocation sweep that ends a connection once its login is signed out or its user disabled.

A socket authenticates once, in connection_init; without the sweep it would keep running
operations and receiving events on a signed-out login until the access token expired. Each
process checks all its open connections' logins in one query every `sweep_seconds`, so
revocation reaches every socket within a few seconds whatever the number of connections.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from starlette.websockets import WebSocketState

from auth.viewer import anonymous
from models.account import RefreshToken, User

log = logging.getLogger("fenxiao.websocket")

CLOSE_REVOKED = 4403
CLOSE_TOO_MANY = 4429


@dataclass(eq=False)
class OpenConnection:
    ip: str
    user_id: int | None = None
    family_id: str | None = None
    context: Any = None
    websocket: Any = None
    closing: bool = field(default=False)


class ConnectionGuard:
    def __init__(self, sessionmaker, *, per_user: int, per_ip: int, sweep_seconds: float = 2.0) -> None:
        self._sessionmaker = sessionmaker
        self._per_user = per_user
        self._per_ip = per_ip
        self._sweep_seconds = sweep_seconds
        self._open: set[OpenConnection] = set()
        self._by_ip: Counter[str] = Counter()
        self._by_user: Counter[int] = Counter()
        self._sweeper: asyncio.Task | None = None

    def open(self, ip: str) -> OpenConnection | None:
        """A new socket from `ip`, or None when that address already holds its share."""
        if self._by_ip[ip] >= self._per_ip:
            return None
        connection = OpenConnection(ip=ip)
        self._open.add(connection)
        self._by_ip[ip] += 1
        self._ensure_sweeper()
        return connection

    def authenticate(self, connection: OpenConnection, context, websocket) -> bool:
        """Attach the signed-in viewer; False when the user already holds their share."""
        user_id = context.viewer.user_id
        if user_id is not None and self._by_user[user_id] >= self._per_user:
            return False
        connection.user_id, connection.family_id = user_id, context.viewer.family_id
        connection.context, connection.websocket = context, websocket
        if user_id is not None:
            self._by_user[user_id] += 1
        return True

    def close(self, connection: OpenConnection) -> None:
        if connection not in self._open:
            return
        self._open.discard(connection)
        self._by_ip[connection.ip] -= 1
        if self._by_ip[connection.ip] <= 0:
            del self._by_ip[connection.ip]
        if connection.user_id is not None:
            self._by_user[connection.user_id] -= 1
            if self._by_user[connection.user_id] <= 0:
                del self._by_user[connection.user_id]

    def _ensure_sweeper(self) -> None:
        if self._sweeper is None or self._sweeper.done():
            self._sweeper = asyncio.create_task(self._sweep_forever(), name="websocket-revocation-sweep")

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            await asyncio.gather(self._sweeper, return_exceptions=True)
            self._sweeper = None

    async def _sweep_forever(self) -> None:
        while self._open:
            await asyncio.sleep(self._sweep_seconds)
            try:
                await self.sweep()
            except Exception:  # the next round tries again; a failed sweep must not end the loop
                log.exception("websocket revocation sweep failed")

    async def sweep(self) -> None:
        signed_in = [c for c in self._open if c.user_id is not None and not c.closing]
        if not signed_in:
            return
        families = {c.family_id for c in signed_in if c.family_id}
        users = {c.user_id for c in signed_in}
        async with self._sessionmaker() as session:
            revoked = set((await session.scalars(select(RefreshToken.family_id).where(
                RefreshToken.family_id.in_(families), RefreshToken.revoked_at.is_not(None)))).all()) if families \
                else set()
            disabled = set((await session.scalars(select(User.id).where(
                User.id.in_(users), User.is_active.is_(False)))).all())
        for connection in signed_in:
            if connection.family_id in revoked or connection.user_id in disabled:
                await self._end(connection)

    async def _end(self, connection: OpenConnection) -> None:
        connection.closing = True
        connection.context.viewer = anonymous(connection.context.viewer.client, "revoked")
        if connection.websocket.application_state == WebSocketState.CONNECTED:
            await connection.websocket.close(code=CLOSE_REVOKED, reason="TOKEN_REVOKED")
