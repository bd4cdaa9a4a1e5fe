"""Fixed-window rate limits, in Redis when configured (shared by every process), else in memory."""

from __future__ import annotations

import time
from dataclasses import dataclass

from redis.asyncio import Redis


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after_seconds: int


class MemoryRateLimiter:
    def __init__(self) -> None:
        self._windows: dict[str, tuple[int, int]] = {}

    async def hit(self, key: str, limit: int, window_seconds: int) -> Verdict:
        window = int(time.time() // window_seconds)
        current_window, count = self._windows.get(key, (window, 0))
        if current_window != window:
            count = 0
        count += 1
        self._windows[key] = (window, count)
        if len(self._windows) > 100_000:
            self._drop_old(window_seconds)
        retry = window_seconds - int(time.time()) % window_seconds
        return Verdict(count <= limit, retry)

    async def peek(self, key: str, limit: int, window_seconds: int) -> Verdict:
        window = int(time.time() // window_seconds)
        current_window, count = self._windows.get(key, (window, 0))
        used = count if current_window == window else 0
        return Verdict(used < limit, window_seconds - int(time.time()) % window_seconds)

    async def reset(self, key: str, window_seconds: int) -> None:
        self._windows.pop(key, None)

    def _drop_old(self, window_seconds: int) -> None:
        window = int(time.time() // window_seconds)
        self._windows = {k: v for k, v in self._windows.items() if v[0] == window}


class RedisRateLimiter:
    def __init__(self, redis: Redis, prefix: str = "rl:") -> None:
        self._redis = redis
        self._prefix = prefix

    def _key(self, key: str, window_seconds: int) -> str:
        return f"{self._prefix}{key}:{int(time.time() // window_seconds)}"

    async def hit(self, key: str, limit: int, window_seconds: int) -> Verdict:
        redis_key = self._key(key, window_seconds)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incr(redis_key)
            pipe.expire(redis_key, window_seconds)
            count, _ = await pipe.execute()
        retry = window_seconds - int(time.time()) % window_seconds
        return Verdict(int(count) <= limit, retry)

    async def peek(self, key: str, limit: int, window_seconds: int) -> Verdict:
        used = int(await self._redis.get(self._key(key, window_seconds)) or 0)
        return Verdict(used < limit, window_seconds - int(time.time()) % window_seconds)

    async def reset(self, key: str, window_seconds: int) -> None:
        await self._redis.delete(self._key(key, window_seconds))
