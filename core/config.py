"""Settings read from the environment, with embedded defaults for the two-command start."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_VAR_DIR = PROJECT_ROOT / "var"


def _bool(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _int(value: str | None, default: int) -> int:
    return default if value in (None, "") else int(value)


def _float(value: str | None, default: float) -> float:
    return default if value in (None, "") else float(value)


def _dev_secret(var_dir: Path, name: str) -> str:
    """A development secret generated once and kept in the git-ignored var/ folder."""
    var_dir.mkdir(parents=True, exist_ok=True)
    path = var_dir / name
    if not path.exists():
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


@dataclass(frozen=True)
class Settings:
    database_url: str
    redis_url: str | None
    secret_key: str
    field_encryption_key: str
    cors_origins: tuple[str, ...] = ()
    access_token_ttl_seconds: int = 900
    refresh_token_ttl_seconds: int = 30 * 24 * 3600
    login_attempts_per_phone: int = 5
    login_attempts_per_ip: int = 30
    login_window_seconds: int = 900
    max_query_depth: int = 12
    max_aliases: int = 20
    max_tokens: int = 2000
    max_query_cost: int = 10000
    max_mutations_per_request: int = 5
    max_body_bytes: int = 1_000_000
    introspection: bool = True
    field_suggestions: bool = True
    persisted_queries_only: bool = False
    persisted_query_allowlist: str | None = None
    max_subscriptions_per_connection: int = 20
    connection_init_timeout_seconds: int = 10
    log_level: str = "INFO"
    jobs_interval_seconds: float = 30.0  # 0 turns the in-process job scheduler off
    # Live updates (realtime/): the outbox relay polls this often (and wakes at once after a
    # local commit that emitted), publishing at most `outbox_batch_size` events per round.
    outbox_relay_interval_seconds: float = 0.5
    outbox_batch_size: int = 500
    # Each subscriber's queue holds this many events; one that falls further behind is ended.
    subscriber_queue_size: int = 1000
    # The fan-out hub re-checks the outbox for published events it did not receive this often.
    hub_sync_interval_seconds: float = 5.0
    events_channel: str = "events"
    # Proxies whose X-Forwarded-For is believed (IPs or CIDR networks); any other peer's
    # header is ignored, so a client cannot pick the address its rate limits are counted under.
    forwarded_allow_ips: tuple[str, ...] = ()
    # Redis connections per process; a request waits up to redis_pool_timeout_seconds for a free
    # one instead of failing.
    redis_max_connections: int = 64
    redis_pool_timeout_seconds: float = 5.0
    # Sign-ups per client address per hour, and a per-phone backstop on failed sign-ins from
    # all addresses together (see README, "Sign-in limits").
    registrations_per_ip: int = 20
    registration_window_seconds: int = 3600
    login_failures_per_phone_all_ips: int = 50
    # Open WebSocket connections per signed-in user and per client address.
    max_websockets_per_user: int = 10
    max_websockets_per_ip: int = 50

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        var_dir = Path(env.get("VAR_DIR") or DEFAULT_VAR_DIR)
        database_url = env.get("DATABASE_URL") or f"sqlite+aiosqlite:///{var_dir / 'fenxiao.db'}"
        if database_url.startswith("sqlite"):
            var_dir.mkdir(parents=True, exist_ok=True)
        secret_key = env.get("SECRET_KEY") or _dev_secret(var_dir, "dev-secret-key")
        encryption_key = env.get("FIELD_ENCRYPTION_KEY") or _dev_secret(var_dir, "dev-field-key")
        origins = tuple(o.strip() for o in env.get("CORS_ORIGINS", "").split(",") if o.strip())
        return cls(
            database_url=database_url,
            redis_url=env.get("REDIS_URL") or None,
            secret_key=secret_key,
            field_encryption_key=encryption_key,
            cors_origins=origins,
            access_token_ttl_seconds=_int(env.get("ACCESS_TOKEN_TTL"), 900),
            refresh_token_ttl_seconds=_int(env.get("REFRESH_TOKEN_TTL"), 30 * 24 * 3600),
            login_attempts_per_phone=_int(env.get("LOGIN_ATTEMPTS_PER_PHONE"), 5),
            login_attempts_per_ip=_int(env.get("LOGIN_ATTEMPTS_PER_IP"), 30),
            max_query_cost=_int(env.get("MAX_QUERY_COST"), 10000),
            introspection=_bool(env.get("GRAPHQL_INTROSPECTION"), True),
            field_suggestions=_bool(env.get("GRAPHQL_FIELD_SUGGESTIONS"), True),
            persisted_queries_only=_bool(env.get("PERSISTED_QUERIES_ONLY"), False),
            persisted_query_allowlist=env.get("PERSISTED_QUERY_ALLOWLIST") or None,
            log_level=env.get("LOG_LEVEL", "INFO"),
            jobs_interval_seconds=_float(env.get("JOBS_INTERVAL_SECONDS"), 30.0),
            outbox_relay_interval_seconds=_float(env.get("OUTBOX_RELAY_INTERVAL"), 0.5),
            outbox_batch_size=_int(env.get("OUTBOX_BATCH_SIZE"), 500),
            subscriber_queue_size=_int(env.get("SUBSCRIBER_QUEUE_SIZE"), 1000),
            hub_sync_interval_seconds=_float(env.get("HUB_SYNC_INTERVAL"), 5.0),
            events_channel=env.get("EVENTS_CHANNEL") or "events",
            forwarded_allow_ips=tuple(p.strip() for p in env.get("FORWARDED_ALLOW_IPS", "").split(",")
                                      if p.strip()),
            redis_max_connections=_int(env.get("REDIS_MAX_CONNECTIONS"), 64),
            max_websockets_per_user=_int(env.get("MAX_WEBSOCKETS_PER_USER"), 10),
            max_websockets_per_ip=_int(env.get("MAX_WEBSOCKETS_PER_IP"), 50),
        )
