"""Everything one app process holds for its lifetime: settings, database, broker, providers."""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from auth.wechat import SandboxWeChatProvider, WeChatProvider
from core.config import Settings
from core.db import create_engine, create_sessionmaker, writer_bind
from core.ratelimit import MemoryRateLimiter, RedisRateLimiter
from realtime.broker import InProcessBroker, RedisBroker
from server.metrics import Metrics
from server.persisted import PersistedQueryStore


@dataclass
class AppState:
    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    writer_sessionmaker: async_sessionmaker[AsyncSession]
    broker: InProcessBroker | RedisBroker
    limiter: MemoryRateLimiter | RedisRateLimiter
    wechat: WeChatProvider
    metrics: Metrics
    redis: Redis | None = None
    persisted_queries: PersistedQueryStore = None  # type: ignore[assignment]

    @classmethod
    def create(cls, settings: Settings, *, wechat: WeChatProvider | None = None) -> AppState:
        engine = create_engine(settings.database_url)
        redis = Redis.from_url(settings.redis_url) if settings.redis_url else None
        return cls(
            settings=settings,
            engine=engine,
            sessionmaker=create_sessionmaker(engine),
            writer_sessionmaker=create_sessionmaker(writer_bind(engine)),
            broker=RedisBroker(redis) if redis else InProcessBroker(),
            limiter=RedisRateLimiter(redis) if redis else MemoryRateLimiter(),
            wechat=wechat or SandboxWeChatProvider(),
            metrics=Metrics(),
            redis=redis,
            persisted_queries=PersistedQueryStore(redis, settings.persisted_query_allowlist),
        )

    async def close(self) -> None:
        await self.broker.close()
        await self.engine.dispose()
