"""The settings every service reads from the environment; each service extends them in its own `settings`."""

from __future__ import annotations

import hashlib
from typing import Literal

from pydantic import Field, PostgresDsn, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


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
    startup_timeout_s: float = Field(
        default=60.0,
        ge=0,
        le=3600,
        description=(
            "Seconds a service (and orders-migrate) waits at start-up for Postgres and RabbitMQ to answer,"
            " retrying with capped backoff; 0: one attempt (make dev, make migrate)."
        ),
    )


def ticket_secret(settings: CommonSettings) -> bytes:
    """The key that signs WebSocket tickets: the configured secret, else one derived from the database URL."""
    if settings.ws_ticket_secret.get_secret_value():
        return settings.ws_ticket_secret.get_secret_value().encode()
    return hashlib.sha256(b"orders-ws-ticket/" + str(settings.database_url).encode()).digest()


__all__ = ["CommonSettings", "ticket_secret"]
