"""Who may open a stream, and how much one client may ask of this replica."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from limits import RateLimitItem, RateLimitItemPerSecond
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter
from starlette.websockets import WebSocket

from orders_notifier.settings import NotifierSettings
from orders_shared.auth import ANONYMOUS, KeyVerifier, Tickets, bearer
from orders_shared.db import Database
from orders_shared.settings import ticket_secret

SUBPROTOCOL = "orders.v1"
_BEARER_PROTOCOL = "bearer."
# The messages a socket may send are counted over a moving window this long: a client may send twice its
# rate at once, then its rate.
_WINDOW_S = 2


def offered_protocols(ws: WebSocket) -> list[str]:
    """The subprotocols the client offered."""
    header = ws.headers.get("sec-websocket-protocol", "")
    return [p.strip() for p in header.split(",") if p.strip()]


@dataclass(frozen=True, slots=True)
class MessageLimit:
    """The messages one socket may send us: ``limits``' moving window, in this process's memory."""

    item: RateLimitItem
    limiter: MovingWindowRateLimiter = field(default_factory=lambda: MovingWindowRateLimiter(MemoryStorage()))

    @classmethod
    def per_second(cls, rate: float) -> MessageLimit:
        """``rate`` messages a second on average, twice that (at least one) at once."""
        return cls(RateLimitItemPerSecond(max(1, round(rate * _WINDOW_S)), _WINDOW_S))

    async def allow(self, socket: uuid.UUID) -> bool:
        """Whether ``socket`` may send one more message now (it is counted if so)."""
        return await self.limiter.hit(self.item, socket.hex)


@dataclass(frozen=True, slots=True)
class Gate:
    """Authentication and per-client limits of the WebSocket endpoint."""

    keys: KeyVerifier
    tickets: Tickets
    auth_required: bool
    max_connections_per_client: int
    max_subscriptions: int
    messages: MessageLimit

    @classmethod
    def build(cls, settings: NotifierSettings, db: Database) -> Gate:
        """The gate the settings describe, checking keys on ``db``."""
        return cls(
            keys=KeyVerifier(db),
            tickets=Tickets(ticket_secret(settings)),
            auth_required=settings.auth_required,
            max_connections_per_client=settings.ws_max_connections_per_client,
            max_subscriptions=settings.ws_max_subscriptions,
            messages=MessageLimit.per_second(settings.ws_max_messages_per_s),
        )

    async def identify(self, ws: WebSocket) -> str | None:
        """The client behind the handshake: a key in a header or a `bearer.<key>` subprotocol, or a ticket.

        None when credentials are given but wrong, or required and missing. Keys never travel in URLs;
        a ticket is short-lived and good only for this.
        """
        ticket = ws.query_params.get("ticket")
        if ticket:
            return self.tickets.verify(ticket)
        key = bearer(ws.headers.get("authorization"), ws.headers.get("x-api-key"))
        if key is None:
            key = next(
                (
                    p.removeprefix(_BEARER_PROTOCOL)
                    for p in offered_protocols(ws)
                    if p.startswith(_BEARER_PROTOCOL)
                ),
                None,
            )
        if key is None:
            return None if self.auth_required else ANONYMOUS
        return await self.keys.client_for(key)
