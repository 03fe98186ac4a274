"""The notifier's settings: the common ones and its own, read from the environment."""

from __future__ import annotations

from pydantic import Field

from orders_shared.settings import CommonSettings


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
