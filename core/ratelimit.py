"""Fixed-window rate limits, in Redis when configured (shared by every process), else in memory."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger("fenxiao.ratelimit")


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

    async def refund(self, key: str, window_seconds: int) -> None:
        """Give back one hit, for an attempt that was counted up front and turned out fine."""
        window = int(time.time() // window_seconds)
        current_window, count = self._windows.get(key, (window, 0))
        if current_window == window and count > 0:
            self._windows[key] = (window, count - 1)

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

    async def refund(self, key: str, window_seconds: int) -> None:
        redis_key = self._key(key, window_seconds)
        if int(await self._redis.decr(redis_key)) <= 0:
            await self._redis.delete(redis_key)  # the window had ended: no counter without a TTL


class FallbackRateLimiter:
    """Redis while it answers, this process's memory while it does not.

    A limit that fails closed would lock every user out while Redis is down; one that fails
    open would let an attacker guess passwords freely. Counting locally keeps each process's
    limits in force (several processes together allow a few times the configured number) and
    the log says so.
    """

    def __init__(self, primary: RedisRateLimiter, fallback: MemoryRateLimiter | None = None) -> None:
        self._primary = primary
        self._fallback = fallback or MemoryRateLimiter()
        self._degraded = False

    async def _call(self, name: str, *args):
        try:
            result = await getattr(self._primary, name)(*args)
        except (RedisError, OSError) as exc:
            if not self._degraded:
                log.warning("rate limits counted in this process only: Redis is unreachable (%s)",
                            type(exc).__name__)
                self._degraded = True
            return await getattr(self._fallback, name)(*args)
        if self._degraded:
            log.warning("rate limits counted in Redis again")
            self._degraded = False
        return result

    async def hit(self, key: str, limit: int, window_seconds: int) -> Verdict:
        return await self._call("hit", key, limit, window_seconds)

    async def peek(self, key: str, limit: int, window_seconds: int) -> Verdict:
        return await self._call("peek", key, limit, window_seconds)

    async def reset(self, key: str, window_seconds: int) -> None:
        await self._call("reset", key, window_seconds)

    async def refund(self, key: str, window_seconds: int) -> None:
        await self._call("refund", key, window_seconds)
