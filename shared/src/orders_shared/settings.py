"""Settings read from the environment: one pydantic-settings base, extended by each service."""

from __future__ import annotations

import hashlib
import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, PostgresDsn, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

_RANGE = re.compile(r"^\s*(\d+)\s*(?:-\s*(\d+))?\s*$")


def _check_range(value: str) -> str:
    match = _RANGE.match(value)
    if match is None:
        raise ValueError("expected milliseconds as 'N' or 'LOW-HIGH', e.g. '200-400'")
    low, high = int(match[1]), int(match[2] or match[1])
    if high < low:
        raise ValueError("the high end of a range must not be below the low end")
    return f"{low}-{high}"


LatencyRange = Annotated[str, AfterValidator(_check_range)]


def parse_range_ms(value: str) -> tuple[float, float]:
    """Turn a validated 'LOW-HIGH' millisecond range into seconds."""
    low, _, high = value.partition("-")
    return int(low) / 1000, int(high or low) / 1000


class CommonSettings(BaseSettings):
    """What every service reads: where Postgres and RabbitMQ are, and how to log."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore", frozen=True)

    database_url: PostgresDsn = Field(
        default=PostgresDsn("postgresql://postgres@127.0.0.1:5432/orders"),
        description="Postgres in libpq form, postgresql://user:pass@host:5432/db.",
    )
    amqp_url: str = Field(
        default="amqp://guest:guest@127.0.0.1:5672/%2F",
        pattern=r"^amqps?://",
        description="RabbitMQ, amqp://user:pass@host:5672/vhost.",
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field(default="info", description="Log level.")
    log_format: Literal["json", "console"] = Field(
        default="json", description="json for machines, console for a person at a terminal."
    )
    db_pool_size: int = Field(
        default=10,
        ge=1,
        le=200,
        description="Postgres connections per process for its main work (worker, notifier: 1-2 more).",
    )
    amqp_delivery_limit: int = Field(
        default=5, ge=1, le=100, description="Deliveries of one message before RabbitMQ dead-letters it."
    )
    retry_base_delay_ms: int = Field(
        default=1000, ge=1, le=600_000, description="Delay before the first retry; doubles each retry."
    )
    market_seed: int = Field(default=42, description="Seed of the simulated market: same seed, same prices.")
    market_volatility_bps: int = Field(
        default=2,
        ge=0,
        le=1000,
        description="Stdev of the reference prices' 1 s log return, in bps.",
    )
    venue_basis_bps: int = Field(
        default=200,
        ge=0,
        le=2000,
        description=(
            "Largest gap between a venue's pool and the reference, in bps (5 at most between stablecoins)."
        ),
    )
    arbitrage_half_life_s: int = Field(
        default=20,
        ge=1,
        le=86_400,
        description="Seconds for arbitrage to close half a pool's gap to its target.",
    )
    auth_required: bool = Field(
        default=True, description="Require an API key; false keeps the seed's open API (a local demo only)."
    )
    ws_ticket_secret: SecretStr = Field(
        default=SecretStr(""),
        description="Signs WebSocket tickets (shared by api and notifier); unset: derived from DATABASE_URL.",
    )
    shutdown_grace_s: float = Field(
        default=20.0, ge=0, le=600, description="Seconds a service takes to finish in-flight work on SIGTERM."
    )


def ticket_secret(settings: CommonSettings) -> bytes:
    """The key that signs WebSocket tickets: the configured secret, else one derived from the database URL."""
    if settings.ws_ticket_secret.get_secret_value():
        return settings.ws_ticket_secret.get_secret_value().encode()
    return hashlib.sha256(b"orders-ws-ticket/" + str(settings.database_url).encode()).digest()


class ApiSettings(CommonSettings):
    """The api service."""

    api_host: str = Field(default="0.0.0.0", description="Interface the api binds.")
    api_port: int = Field(default=8000, ge=1, le=65535, description="Port of the api.")
    api_workers: int = Field(
        default=1,
        ge=1,
        le=64,
        description="api processes sharing the port: more than 1 where a pod or host has cores to spare.",
    )
    max_body_bytes: int = Field(
        default=16_384, ge=256, description="Largest request body accepted, in bytes."
    )
    default_slippage_bps: int = Field(
        default=50, ge=0, le=10_000, description="Slippage when an order names none."
    )
    outbox_batch_size: int = Field(
        default=200, ge=1, le=10_000, description="Orders published per relay batch."
    )
    ingest_max_batch: int = Field(
        default=256,
        ge=1,
        le=10_000,
        description="Most orders one transaction stores (group commit of concurrent submissions).",
    )
    public_ws_url: str = Field(
        default="",
        description="The notifier's WebSocket base URL as browsers reach it (unset: ws://<page host>:8001).",
    )
    stuck_after_s: float = Field(
        default=120,
        gt=0,
        description="An unfinished order this long without progress is handed to a worker again.",
    )
    sweep_interval_s: float = Field(
        default=15, gt=0, description="How often the sweeper looks for stuck orders."
    )
    rate_limit_orders_per_s: float = Field(
        default=20, gt=0, description="Order submissions a key may make per second."
    )
    rate_limit_orders_burst: int = Field(
        default=40, ge=1, description="Order submissions a key may make at once."
    )
    rate_limit_reads_per_s: float = Field(
        default=50, gt=0, description="Reads (orders, quotes) a key may make per second."
    )
    rate_limit_reads_burst: int = Field(default=100, ge=1, description="Reads a key may make at once.")
    cors_allow_origins: str = Field(
        default="", description="Comma-separated origins allowed by CORS; empty: no cross-origin access."
    )
    outbox_poll_s: float = Field(
        default=1.0,
        gt=0,
        le=60,
        description=(
            "How often the relay looks for orders the api could not publish right after their commit."
        ),
    )


class WorkerSettings(CommonSettings):
    """The worker service."""

    worker_host: str = Field(
        default="0.0.0.0", description="Interface of the worker's health/metrics server."
    )
    worker_port: int = Field(
        default=8002, ge=1, le=65535, description="Port of the worker's health and metrics."
    )
    worker_concurrency: int = Field(default=10, ge=1, le=1000, description="Orders one worker holds at once.")
    venue_quote_latency_ms: LatencyRange = Field(
        default="200-400", description="Simulated quote latency range."
    )
    venue_execute_latency_ms: LatencyRange = Field(
        default="2000-3000", description="Simulated swap execution latency range."
    )
    venue_quote_timeout_ms: int = Field(
        default=1500, ge=1, description="A venue slower than this to quote is left out."
    )
    venue_failure_rate: float = Field(
        default=0.0, ge=0, le=1, description="Share of venue calls that fail (fault injection)."
    )
    max_attempts: int = Field(default=3, ge=1, le=3, description="Attempts per order before it fails.")

    def quote_latency_s(self) -> tuple[float, float]:
        """Quote latency range in seconds."""
        return parse_range_ms(self.venue_quote_latency_ms)

    def execute_latency_s(self) -> tuple[float, float]:
        """Execution latency range in seconds."""
        return parse_range_ms(self.venue_execute_latency_ms)


class NotifierSettings(CommonSettings):
    """The notifier service."""

    notifier_host: str = Field(default="0.0.0.0", description="Interface the notifier binds.")
    notifier_port: int = Field(default=8001, ge=1, le=65535, description="Port of the notifier.")
    ws_send_queue: int = Field(
        default=256,
        ge=8,
        le=100_000,
        description="Frames buffered per socket before a slow client is closed.",
    )
    ws_max_connections_per_client: int = Field(
        default=50, ge=1, description="Open WebSockets one client may hold on one notifier replica."
    )
    ws_max_subscriptions: int = Field(default=500, ge=1, description="Orders one WebSocket may follow.")
    ws_max_messages_per_s: float = Field(
        default=10, gt=0, description="Messages a client may send per second."
    )
    ws_resync_s: float = Field(
        default=15, gt=0, description="How often open sockets look in Postgres for events the broker missed."
    )
    ws_ping_interval_s: float = Field(default=20.0, gt=0, description="Seconds between WebSocket pings.")


__all__ = [
    "ApiSettings",
    "CommonSettings",
    "LatencyRange",
    "NotifierSettings",
    "WorkerSettings",
    "parse_range_ms",
    "ticket_secret",
]
