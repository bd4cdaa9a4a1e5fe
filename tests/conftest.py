"""Fixtures: a fresh database per test (SQLite, or PostgreSQL when TEST_DATABASE_URL is set),
Redis when TEST_REDIS_URL is set, a GraphQL client over HTTP and WebSocket, and a counter of
SQL statements."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator

import pytest
from hypothesis import settings as hypothesis_settings

os.environ.setdefault("APP_ENV", "test")
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import create_async_engine

from core.config import Settings
from migrations import upgrade
from tests.databases import ON_POSTGRES, TEST_DATABASE_URL, TEST_REDIS_URL
from tests.support import GraphQLClient, StatementCounter

# Hypothesis budgets, chosen by HYPOTHESIS_PROFILE: "default" for a run at the desk, "ci" (exported by
# .ci/run) searches longer. Tests that build a database per example take a share of max_examples.
hypothesis_settings.register_profile("default", max_examples=100, stateful_step_count=12)
hypothesis_settings.register_profile("ci", max_examples=200, stateful_step_count=30, deadline=None)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


def pytest_report_header(config):
    return [f"database: {'PostgreSQL ' + TEST_DATABASE_URL if ON_POSTGRES else 'SQLite (file per test)'}",
            f"redis: {TEST_REDIS_URL or 'none (in-process broker, memory rate limits)'}",
            f"hypothesis profile: {os.environ.get('HYPOTHESIS_PROFILE', 'default')}"]


async def _reset_postgres_schema(url: str) -> None:
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        await conn.execute(text("DROP SCHEMA public CASCADE"))
        await conn.execute(text("CREATE SCHEMA public"))
    await engine.dispose()


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory) -> str:
    """A database migrated to head once per run: a SQLite file to copy, or the PostgreSQL database."""
    if ON_POSTGRES:
        asyncio.run(_reset_postgres_schema(TEST_DATABASE_URL))
        upgrade(TEST_DATABASE_URL)
        return TEST_DATABASE_URL
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    return str(path)


@pytest.fixture
async def database_url(migrated_template, tmp_path) -> AsyncIterator[str]:
    if not ON_POSTGRES:
        path = tmp_path / "test.db"
        shutil.copy(migrated_template, path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    engine = create_async_engine(TEST_DATABASE_URL)
    async with engine.begin() as conn:
        tables = (await conn.execute(text(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
        ))).scalars().all()
        if tables:
            await conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
    await engine.dispose()
    yield TEST_DATABASE_URL


@pytest.fixture
async def redis_url() -> AsyncIterator[str | None]:
    if not TEST_REDIS_URL:
        yield None
        return
    from redis.asyncio import Redis

    redis = Redis.from_url(TEST_REDIS_URL)
    await redis.flushdb()
    await redis.aclose()
    yield TEST_REDIS_URL


@pytest.fixture
def settings(database_url, redis_url, tmp_path) -> Settings:
    return Settings(
        database_url=database_url,
        redis_url=redis_url,
        secret_key="test-secret-key-0123456789abcdef0123456789",
        field_encryption_key="test-field-key-0123456789abcdef0123456789",
        # Fixtures sign up many users from the test client's one address; the limit itself is
        # tested with its own settings.
        registrations_per_ip=100_000,
    )


@pytest.fixture
async def app_state(settings):
    from server.state import AppState

    state = AppState.create(settings)
    yield state
    await state.close()


@pytest.fixture
async def app(app_state):
    from app import build_app

    return build_app(state=app_state)


@pytest.fixture
async def client(app) -> AsyncIterator[GraphQLClient]:
    async with GraphQLClient.open(app) as graphql_client:
        yield graphql_client


@pytest.fixture
def statements(app_state) -> StatementCounter:
    counter = StatementCounter()
    event.listen(app_state.engine.sync_engine, "before_cursor_execute", counter.on_execute)
    yield counter
    event.remove(app_state.engine.sync_engine, "before_cursor_execute", counter.on_execute)


@pytest.fixture
async def db(app_state):
    """A session on the test database for arranging fixtures directly (commits explicitly)."""
    async with app_state.sessionmaker() as session:
        yield session


@pytest.fixture
async def realtime(app_state):
    """The outbox relay and the fan-out hub running, as the app's lifespan starts them (the ASGI
    test transport runs no lifespan); app_state's teardown stops them."""
    app_state.start()
    await app_state.hub.wait_ready()
    return app_state


@pytest.fixture
async def make_client(settings):
    """Open clients on apps built with some settings changed; each closes after the test."""
    import dataclasses

    from app import build_app

    opened = []

    async def factory(**changes) -> GraphQLClient:
        app = build_app(dataclasses.replace(settings, **changes))
        context = GraphQLClient.open(app)
        opened.append((app, context))
        return await context.__aenter__()

    yield factory
    for app, context in opened:
        await context.__aexit__(None, None, None)
        await app.state.app_state.close()
