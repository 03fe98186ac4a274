"""Who may open a stream, and how much one client may ask of this replica."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from starlette.websockets import WebSocket

from orders_shared.auth import ANONYMOUS, KeyVerifier, Tickets, bearer

SUBPROTOCOL = "orders.v1"
_BEARER_PROTOCOL = "bearer."


def offered_protocols(ws: WebSocket) -> list[str]:
    """The subprotocols the client offered."""
    header = ws.headers.get("sec-websocket-protocol", "")
    return [p.strip() for p in header.split(",") if p.strip()]


@dataclass(frozen=True, slots=True)
class Gate:
    """Authentication and per-client limits of the WebSocket endpoint."""

    keys: KeyVerifier
    tickets: Tickets
    auth_required: bool
    max_connections_per_client: int = 50
    max_subscriptions: int = 500
    messages_per_s: float = 10

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


@dataclass(slots=True)
class MessageBudget:
    """A token bucket for the messages one socket sends us."""

    rate: float
    tokens: float = 0.0
    last: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self.tokens = 2 * self.rate

    def spend(self) -> bool:
        """Whether the client may send one more message now."""
        now = time.monotonic()
        self.tokens = min(2 * self.rate, self.tokens + (now - self.last) * self.rate)
        self.last = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True
