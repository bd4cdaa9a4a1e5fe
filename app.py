"""Builds the Starlette app (GraphQL over HTTP and WebSocket at /graphql, /healthz, /metrics)
and runs it: `uv run app.py [--host H] [--port P] [--demo]`, or one of the admin commands."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import sys
import time

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import Route, WebSocketRoute

from core.config import Settings
from server.schema import build_schema
from server.callbacks import payment_callback, payout_callback
from server.graphql_http import GraphQLHTTP
from server.graphql_ws import GraphQLWebSocket
from server.health import healthz, metrics
from server.logging import configure_logging
from server.state import AppState


class _HTTPMetricsMiddleware:
    def __init__(self, app, state: AppState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = {"code": 500}

        async def send_wrapper(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            self.state.metrics.http_requests.labels(scope["path"] if scope["path"] in _KNOWN_PATHS else "other",
                                                    scope["method"], str(status["code"])).inc()


_KNOWN_PATHS = {"/graphql", "/healthz", "/metrics"}


def build_app(settings: Settings | None = None, state: AppState | None = None) -> Starlette:
    settings = settings or (state.settings if state else Settings.from_env())
    state = state or AppState.create(settings)
    schema = build_schema(settings)

    @contextlib.asynccontextmanager
    async def lifespan(_app):
        state.start()  # the outbox relay and the live-updates fan-out hub
        try:
            yield
        finally:
            await state.close()

    app = Starlette(
        routes=[
            # Every method reaches the handler, so a wrong one gets a JSON error too.
            Route("/graphql", GraphQLHTTP(schema, state)),
            WebSocketRoute("/graphql", GraphQLWebSocket(schema, state)),
            Route("/callbacks/payment/{provider}", payment_callback, methods=["POST"]),
            Route("/callbacks/payout/sandbox", payout_callback, methods=["POST"]),
            Route("/healthz", healthz),
            Route("/metrics", metrics),
        ],
        middleware=[
            Middleware(_HTTPMetricsMiddleware, state=state),
            Middleware(CORSMiddleware, allow_origins=list(settings.cors_origins),
                       allow_methods=["GET", "POST"], allow_headers=["*"], expose_headers=["X-Request-Id"]),
        ],
        lifespan=lifespan,
    )
    app.state.app_state = state
    app.state.schema = schema
    return app


def serve_app() -> Starlette:
    """The app as uvicorn's workers build it, from the environment."""
    settings = Settings.from_env()
    configure_logging(settings.log_level)
    return build_app(settings)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="app.py", description="The distribution GraphQL API.")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000)")
    parser.add_argument("--demo", action="store_true", help="load the demo network and catalog (idempotent)")
    parser.add_argument("--workers", type=int, default=1, help="worker processes (PostgreSQL and Redis only)")
    parser.add_argument("--no-migrate", action="store_true", help="do not run migrations before serving")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.add_parser("migrate", help="apply migrations and exit")
    staff = commands.add_parser("create-staff", help="create a staff account (or promote a user by phone)")
    staff.add_argument("--phone", required=True)
    staff.add_argument("--password", help="read from the terminal when left out")
    staff.add_argument("--nickname", default="")
    staff.add_argument("--permissions", default="ALL",
                       help="comma-separated permission names, or ALL (default)")
    schema_cmd = commands.add_parser("export-schema", help="write the schema SDL")
    schema_cmd.add_argument("--output", default="schema.graphql")
    return parser


async def _create_staff(settings: Settings, args) -> int:
    from auth.permissions import Permission
    from core.db import create_engine, create_sessionmaker
    from core.errors import ServiceError
    from services.account import create_staff

    names = [p.strip().upper() for p in args.permissions.split(",") if p.strip()]
    try:
        permissions = set(Permission) if names == ["ALL"] else {Permission(n) for n in names}
    except ValueError:
        print(f"Unknown permission in {args.permissions!r}; choose from "
              f"{', '.join(p.value for p in Permission)} or ALL.", file=sys.stderr)
        return 2
    password = args.password or getpass.getpass("Password: ")
    engine = create_engine(settings.database_url)
    try:
        async with create_sessionmaker(engine)() as session:
            try:
                user = await create_staff(session, phone=args.phone, password=password,
                                          nickname=args.nickname, permissions=permissions, actor_id=None)
            except ServiceError as exc:
                print(f"{exc.code.value}: {exc.message}", file=sys.stderr)
                return 2
            await session.commit()
            print(f"Staff account {user.phone} (id {user.id}) has: "
                  f"{', '.join(sorted(p.value for p in permissions))}")
    finally:
        await engine.dispose()
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    settings = Settings.from_env()
    configure_logging(settings.log_level)
    from migrations import upgrade

    if args.command == "export-schema":
        from server.schema import export_sdl

        with open(args.output, "w", encoding="utf-8") as out:
            out.write(export_sdl())
        return 0
    if args.command == "migrate" or not args.no_migrate:
        started = time.perf_counter()
        upgrade(settings.database_url)
        print(f"Database migrated in {time.perf_counter() - started:.2f}s", file=sys.stderr)
    if args.command == "migrate":
        return 0
    if args.command == "create-staff":
        return asyncio.run(_create_staff(settings, args))
    if args.demo:
        from services.demo import load_demo

        print(asyncio.run(load_demo(settings)), file=sys.stderr)
    if args.workers > 1 and settings.is_sqlite:
        print("Several workers need PostgreSQL and Redis (DATABASE_URL, REDIS_URL).", file=sys.stderr)
        return 2

    import uvicorn

    uvicorn.run("app:serve_app", factory=True, host=args.host, port=args.port, workers=args.workers,
                log_config=None, ws_max_size=1 << 20, proxy_headers=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
