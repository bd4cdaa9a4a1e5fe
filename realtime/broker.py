"""Message brokers: in-process for the embedded default, Redis pub/sub in production."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger("fenxiao.realtime")

# What a broker call raises when the broker is unreachable.
BROKER_ERRORS = (RedisError, OSError, asyncio.TimeoutError)


class InProcessSubscription:
    def __init__(self, queue: asyncio.Queue[str]) -> None:
        self._queue = queue

    async def get(self, timeout: float) -> str | None:
        """The next message, or None after `timeout` seconds without one."""
        try:
            return await asyncio.wait_for(self._queue.get(), timeout)
        except asyncio.TimeoutError:
            return None


class RedisSubscription:
    def __init__(self, pubsub) -> None:
        self._pubsub = pubsub

    async def get(self, timeout: float) -> str | None:
        """The next message, or None after `timeout` seconds without one; raises one of
        BROKER_ERRORS when the connection to Redis is lost."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return None
            item = await self._pubsub.get_message(ignore_subscribe_messages=True, timeout=remaining)
            if item is not None and item.get("type") == "message":
                data = item["data"]
                return data.decode() if isinstance(data, bytes) else data


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

    @contextlib.asynccontextmanager
    async def subscription(self, channel: str) -> AsyncIterator[InProcessSubscription]:
        """A subscription that is active when the block starts (nothing published after that
        is missed)."""
        queue: asyncio.Queue[str] = asyncio.Queue()
        self._subscribers.setdefault(channel, set()).add(queue)
        try:
            yield InProcessSubscription(queue)
        finally:
            self._subscribers.get(channel, set()).discard(queue)

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

    @contextlib.asynccontextmanager
    async def subscription(self, channel: str, confirm_timeout: float = 5.0
                           ) -> AsyncIterator[RedisSubscription]:
        """A subscription that Redis has confirmed when the block starts (nothing published
        after that is missed); raises one of BROKER_ERRORS when Redis is unreachable."""
        pubsub = self.redis.pubsub()
        try:
            await asyncio.wait_for(pubsub.subscribe(channel), confirm_timeout)
            loop = asyncio.get_running_loop()
            deadline = loop.time() + confirm_timeout
            while True:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    raise asyncio.TimeoutError(f"Redis did not confirm the subscription to {channel!r}")
                item = await pubsub.get_message(timeout=remaining)
                if item is not None and item.get("type") == "subscribe":
                    break
            yield RedisSubscription(pubsub)
        finally:
            try:
                await pubsub.aclose()
            except BROKER_ERRORS as exc:  # the connection is already gone; nothing to release
                log.debug("closing a lost Redis subscription: %r", exc)

    async def close(self) -> None:
        await self.redis.aclose()
