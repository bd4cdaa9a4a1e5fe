"""/healthz and /metrics."""

from __future__ import annotations

import asyncio

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response


async def healthz(request: Request) -> Response:
    state = request.app.state.app_state
    pending = None
    try:
        async with state.sessionmaker() as session:
            await asyncio.wait_for(session.execute(text("SELECT 1")), timeout=3)
            # Live updates: committed events the relay has not handed to the broker yet.
            pending = await asyncio.wait_for(session.scalar(text(
                "SELECT count(*) FROM outbox_events WHERE published_at IS NULL")), timeout=3)
        database = "ok"
    except (SQLAlchemyError, OSError, asyncio.TimeoutError):
        database = "unreachable"
    broker = "ok" if await state.broker.ping() else "unreachable"
    healthy = database == "ok" and broker == "ok"
    body = {"status": "ok" if healthy else "degraded", "database": database,
            "broker": broker, "brokerKind": state.broker.name, "outboxPending": pending}
    return JSONResponse(body, status_code=200 if healthy else 503)


async def metrics(request: Request) -> Response:
    state = request.app.state.app_state
    state.metrics.live_subscribers.set(len(state.hub.subscribers))
    state.metrics.outbox_published.set(state.relay.published_total)
    return Response(state.metrics.render(), media_type=state.metrics.content_type)
