"""Runs the scheduled jobs every few seconds in the background of each app process."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services import jobs

log = logging.getLogger("fenxiao.jobs")


class JobScheduler:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], interval_seconds: float) -> None:
        self._sessionmaker = sessionmaker
        self._interval = interval_seconds
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        if self._interval > 0 and self._task is None:
            self._task = asyncio.create_task(self._loop(), name="job-scheduler")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            done = await jobs.run_all(self._sessionmaker)
            if any(count for count in done.values()):
                log.info("jobs ran", extra={"fields": {"done": done}})
