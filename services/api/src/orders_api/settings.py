"""The api's settings: the common ones and its own, read from the environment."""

from __future__ import annotations

from pydantic import Field

from orders_shared.settings import CommonSettings


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
