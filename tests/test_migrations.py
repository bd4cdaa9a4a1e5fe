"""Migrations run up and down on the database under test, and match the models exactly."""

from __future__ import annotations

import asyncio
import contextlib

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import create_async_engine

import models
from migrations import alembic_config, downgrade, upgrade
from tests.databases import ON_POSTGRES, TEST_DATABASE_URL, scratch_postgres_database


@contextlib.asynccontextmanager
async def _scratch_database(tmp_path):
    """An empty database of the kind under test."""
    if not ON_POSTGRES:
        yield f"sqlite+aiosqlite:///{tmp_path / 'scratch.db'}"
        return
    async with scratch_postgres_database(TEST_DATABASE_URL) as url:
        yield url


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
    async with _scratch_database(tmp_path) as url:
        await asyncio.to_thread(upgrade, url)
        assert await _tables(url) == set(models.metadata.tables)
        await asyncio.to_thread(downgrade, url, "base")
        assert await _tables(url) == set()
        await asyncio.to_thread(upgrade, url)
        assert await _tables(url) == set(models.metadata.tables)


async def test_models_and_migrations_agree(tmp_path):
    async with _scratch_database(tmp_path) as url:
        await asyncio.to_thread(upgrade, url)
        assert await _differences(url) == []


def test_one_head_and_every_revision_says_what_it_depends_on():
    """Two heads mean two revisions were added side by side: merge them (see README, Migrations)."""
    scripts = ScriptDirectory.from_config(alembic_config("sqlite+aiosqlite://"))
    assert len(scripts.get_heads()) == 1, scripts.get_heads()
    for revision in scripts.walk_revisions():
        assert "Depends on:" in (revision.module.__doc__ or ""), revision.path
