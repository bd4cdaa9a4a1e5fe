"""Everything one app process holds for its lifetime: settings, database, broker, providers."""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import BlockingConnectionPool, Redis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from auth.wechat import SandboxWeChatProvider, WeChatProvider
from core.config import Settings
from core.db import create_engine, create_sessionmaker, writer_bind
from core.ratelimit import FallbackRateLimiter, MemoryRateLimiter, RedisRateLimiter
from realtime.broker import InProcessBroker, RedisBroker
from realtime.relay import OutboxRelay
from realtime.streams import EventHub
from server.metrics import Metrics
from server.scheduler import JobScheduler
from services.payment import SandboxPaymentProvider
from services.payout import PayoutProvider, SandboxPayoutProvider
from server.persisted import PersistedQueryStore


@dataclass
class AppState:
    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    writer_sessionmaker: async_sessionmaker[AsyncSession]
    broker: InProcessBroker | RedisBroker
    limiter: MemoryRateLimiter | FallbackRateLimiter
    wechat: WeChatProvider
    metrics: Metrics
    redis: Redis | None = None
    persisted_queries: PersistedQueryStore = None  # type: ignore[assignment]
    hub: EventHub = None  # type: ignore[assignment]
    relay: OutboxRelay = None  # type: ignore[assignment]
    payments: SandboxPaymentProvider = None  # type: ignore[assignment]
    payouts: PayoutProvider = None  # type: ignore[assignment]
    scheduler: JobScheduler = None  # type: ignore[assignment]

    @classmethod
    def create(cls, settings: Settings, *, wechat: WeChatProvider | None = None) -> AppState:
        engine = create_engine(settings.database_url)
        redis = None
        if settings.redis_url:
            pool = BlockingConnectionPool.from_url(settings.redis_url, max_connections=settings.redis_max_connections,
                                                   timeout=settings.redis_pool_timeout_seconds)
            redis = Redis(connection_pool=pool)
        sessionmaker = create_sessionmaker(engine)
        broker = RedisBroker(redis) if redis else InProcessBroker()
        return cls(
            settings=settings,
            engine=engine,
            sessionmaker=sessionmaker,
            writer_sessionmaker=create_sessionmaker(writer_bind(engine)),
            broker=broker,
            limiter=FallbackRateLimiter(RedisRateLimiter(redis)) if redis else MemoryRateLimiter(),
            wechat=wechat or SandboxWeChatProvider(),
            metrics=Metrics(),
            redis=redis,
            persisted_queries=PersistedQueryStore(redis, settings.persisted_query_allowlist,
                                                  only_known=settings.persisted_queries_only),
            hub=EventHub(broker, sessionmaker, channel=settings.events_channel,
                         queue_size=settings.subscriber_queue_size,
                         sync_interval=settings.hub_sync_interval_seconds),
            payments=SandboxPaymentProvider(settings.secret_key),
            payouts=SandboxPayoutProvider(),
            scheduler=JobScheduler(sessionmaker, settings.jobs_interval_seconds),
            relay=OutboxRelay(engine, broker, channel=settings.events_channel,
                              interval=settings.outbox_relay_interval_seconds,
                              batch_size=settings.outbox_batch_size),
        )

    def start(self) -> None:
        """Start the background work of live updates (the app's lifespan calls this)."""
        self.relay.start()
        self.hub.start()
        self.scheduler.start()

    async def close(self) -> None:
        await self.scheduler.stop()
        await self.relay.stop()
        await self.hub.stop()
        await self.broker.close()
        await self.engine.dispose()
