"""Engine and session factory for SQLite (embedded) and PostgreSQL."""

from __future__ import annotations

import asyncio
import functools

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine


def create_engine(database_url: str, **kwargs) -> AsyncEngine:
    # Statement parameters hold password hashes, tokens and personal data: keep them out of
    # exception messages, and so out of logs.
    kwargs.setdefault("hide_parameters", True)
    if database_url.startswith("sqlite"):
        engine = create_async_engine(database_url, connect_args={"timeout": 30}, **kwargs)
        _configure_sqlite(engine)
        return engine
    return create_async_engine(database_url, pool_pre_ping=True, **kwargs)


def _configure_sqlite(engine: AsyncEngine) -> None:
    # pysqlite's own transaction handling breaks SAVEPOINT; take BEGIN over so that nested
    # transactions (one per mutation) work. Writers (execution option sqlite_begin=IMMEDIATE)
    # take the write lock up front so two of them wait for each other instead of failing on
    # a stale snapshot; readers stay deferred and never block.
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection):
        mode = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")


class _TaskLock:
    """An asyncio lock that the task holding it may take again (AsyncSession.scalars awaits
    AsyncSession.execute, both of which take it)."""

    def __init__(self) -> None:
        self._lock = asyncio.Lock()
        self._owner: asyncio.Task | None = None
        self._depth = 0

    async def __aenter__(self) -> None:
        task = asyncio.current_task()
        if self._owner is not task:
            await self._lock.acquire()
            self._owner = task
        self._depth += 1

    async def __aexit__(self, *exc) -> None:
        self._depth -= 1
        if self._depth == 0:
            self._owner = None
            self._lock.release()


def _serialized(method):
    @functools.wraps(method)
    async def call(self, *args, **kwargs):
        async with self._io_lock:
            return await method(self, *args, **kwargs)

    return call


class OperationSession(AsyncSession):
    """An AsyncSession that many coroutines of one GraphQL operation may share.

    GraphQL runs the root fields of a query, and the sibling fields of any object, concurrently;
    a plain AsyncSession refuses a second statement while one is in flight. Every awaitable
    database call here waits its turn instead, so resolvers and dataloaders can all use the
    operation's one session (and see one snapshot) without knowing about each other.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._io_lock = _TaskLock()

    execute = _serialized(AsyncSession.execute)
    scalar = _serialized(AsyncSession.scalar)
    scalars = _serialized(AsyncSession.scalars)
    get = _serialized(AsyncSession.get)
    get_one = _serialized(AsyncSession.get_one)
    refresh = _serialized(AsyncSession.refresh)
    merge = _serialized(AsyncSession.merge)
    delete = _serialized(AsyncSession.delete)
    flush = _serialized(AsyncSession.flush)
    stream = _serialized(AsyncSession.stream)
    stream_scalars = _serialized(AsyncSession.stream_scalars)
    run_sync = _serialized(AsyncSession.run_sync)
    connection = _serialized(AsyncSession.connection)
    commit = _serialized(AsyncSession.commit)
    rollback = _serialized(AsyncSession.rollback)
    close = _serialized(AsyncSession.close)


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, class_=OperationSession, expire_on_commit=False, autoflush=False)


def writer_bind(engine: AsyncEngine) -> AsyncEngine:
    """The engine to bind a session that will write (no-op outside SQLite)."""
    return engine.execution_options(sqlite_begin="IMMEDIATE")


_RETRYABLE_SQLSTATES = {"40001", "40P01"}  # serialization failure, deadlock detected


def is_retryable(error: BaseException | None) -> bool:
    """A transaction the database aborted only because of a concurrent one (deadlock or
    serialization failure): running the same work again is expected to succeed."""
    while error is not None:
        code = getattr(error, "sqlstate", None) or getattr(error, "pgcode", None)
        if code in _RETRYABLE_SQLSTATES:
            return True
        error = getattr(error, "orig", None) or error.__cause__
    return False
