"""Message brokers: in-process for the embedded default, Redis pub/sub in production."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from redis.asyncio import Redis
from redis.exceptions import RedisError


class InProcessBroker:
    name = "in-process"

    def __init__(self) -> None:
        self._subscribers: dict[str, set[asyncio.Queue]] = {}

    async def ping(self) -> bool:
        return True

    async def publish(self, channel: str, message: str) -> None:
        for queue in list(self._subscribers.get(channel, ())):
            queue.put_nowait(message)

    async def listen(self, channel: str) -> AsyncIterator[str]:
        queue: asyncio.Queue[str] = asyncio.Queue()
        self._subscribers.setdefault(channel, set()).add(queue)
        try:
            while True:
                yield await queue.get()
        finally:
            self._subscribers[channel].discard(queue)

    async def close(self) -> None:
        self._subscribers.clear()


class RedisBroker:
    name = "redis"

    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def ping(self) -> bool:
        try:
            return bool(await asyncio.wait_for(self.redis.ping(), timeout=2))
        except (RedisError, OSError, asyncio.TimeoutError):
            return False

    async def publish(self, channel: str, message: str) -> None:
        await self.redis.publish(channel, message)

    async def listen(self, channel: str) -> AsyncIterator[str]:
        pubsub = self.redis.pubsub()
        await pubsub.subscribe(channel)
        try:
            async for item in pubsub.listen():
                if item.get("type") == "message":
                    data = item["data"]
                    yield data.decode() if isinstance(data, bytes) else data
        finally:
            await pubsub.aclose()

    async def close(self) -> None:
        await self.redis.aclose()
