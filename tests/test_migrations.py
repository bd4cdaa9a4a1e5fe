"""Migrations run up and down on the database under test, and match the models exactly."""

from __future__ import annotations

import asyncio
import os
import uuid

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

import models
from migrations import downgrade, upgrade
from tests.conftest import ON_POSTGRES, TEST_DATABASE_URL


async def _scratch_database(tmp_path):
    """An empty database of the kind under test, and a function that drops it."""
    if not ON_POSTGRES:
        return f"sqlite+aiosqlite:///{tmp_path / 'scratch.db'}", None
    name = f"scratch_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = create_async_engine(TEST_DATABASE_URL, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))

    async def drop():
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()

    return make_url(TEST_DATABASE_URL).set(database=name).render_as_string(hide_password=False), drop


async def _tables(url: str) -> set[str]:
    engine = create_async_engine(url)
    async with engine.connect() as conn:
        names = await conn.run_sync(lambda sync: set(inspect(sync).get_table_names()))
    await engine.dispose()
    return names - {"alembic_version"}


async def _differences(url: str) -> list:
    engine = create_async_engine(url)
    async with engine.connect() as conn:
        diff = await conn.run_sync(lambda sync: compare_metadata(MigrationContext.configure(sync), models.metadata))
    await engine.dispose()
    return diff


async def test_upgrade_downgrade_upgrade(tmp_path):
    url, drop = await _scratch_database(tmp_path)
    try:
        await asyncio.to_thread(upgrade, url)
        assert await _tables(url) == set(models.metadata.tables)
        await asyncio.to_thread(downgrade, url, "base")
        assert await _tables(url) == set()
        await asyncio.to_thread(upgrade, url)
        assert await _tables(url) == set(models.metadata.tables)
    finally:
        if drop:
            await drop()


async def test_models_and_migrations_agree(tmp_path):
    url, drop = await _scratch_database(tmp_path)
    try:
        await asyncio.to_thread(upgrade, url)
        assert await _differences(url) == []
    finally:
        if drop:
            await drop()
