"""What the notifier's lifespan hands the WebSocket endpoint: typed, one object, built once per process."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from orders_notifier.access import Gate
from orders_notifier.hub import Hub, Session, Socket
from orders_shared.db import Database
from orders_shared.metrics import Metrics


@dataclass(frozen=True, slots=True)
class NotifierState:
    """The hub, the database, the metrics and the gate every socket of this replica shares."""

    hub: Hub
    db: Database
    metrics: Metrics
    gate: Gate
    send_queue: int

    def open_session(self, ws: Socket, client: str, *, single: bool) -> Session:
        """A new socket's session, known to the hub and counted; `close_session` undoes both."""
        session = Session(
            ws=ws,
            hub=self.hub,
            db=self.db,
            metrics=self.metrics,
            single=single,
            inbox=asyncio.Queue(maxsize=self.send_queue),
            client=client,
            max_subscriptions=self.gate.max_subscriptions,
        )
        self.hub.sessions.add(session)
        self.metrics.ws_connections.inc()
        return session

    def close_session(self, session: Session) -> None:
        """Forget a session whose socket is done."""
        self.hub.forget(session)
        self.metrics.ws_connections.dec()
