"""Who follows which order, and the per-socket session that turns events into an ordered stream.

Each socket has one writer task reading one inbox, so every frame it sends is in order: a follow
request sends the snapshot from Postgres, live events are deduplicated by seq, and a gap between the
last seq sent and a live event is filled from Postgres first. Postgres is the record, RabbitMQ the bell.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from starlette.websockets import WebSocketDisconnect, WebSocketDisconnected, WebSocketState

from orders_notifier import protocol
from orders_notifier.repository import read_snapshots
from orders_shared.contracts import OrderEvent
from orders_shared.db import Database
from orders_shared.logging import get_logger
from orders_shared.metrics import Metrics
from orders_shared.repository import events_after, read_events
from orders_shared.status import TERMINAL

log = get_logger()

# Follow requests taken from the inbox together share one snapshot query (a subscribe names up to 100).
_FOLLOW_BATCH = 100

# The socket is gone: the client left (a send fails, 1006), or another path closed it first (a slow
# client, shutdown) and Starlette refuses to send on it.
SOCKET_GONE = (WebSocketDisconnect, WebSocketDisconnected)


class Socket(Protocol):
    """What a session uses of its WebSocket: Starlette's, or any object that sends and closes alike."""

    application_state: WebSocketState

    async def send_text(self, data: str) -> None:
        """Send one text frame."""

    async def send_json(self, data: Any, mode: str = "text") -> None:
        """Send ``data`` as one JSON text frame."""

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        """Send the close frame."""


def frame_text(event: OrderEvent) -> str:
    """The event's WebSocket frame (`OrderEvent.frame`) as JSON text, serialised by pydantic in one call."""
    return event.model_dump_json(by_alias=True, exclude_none=True, exclude={"v"})


@dataclass(frozen=True, slots=True)
class Follow:
    """Start following an order from after ``after_seq``."""

    order_id: uuid.UUID
    after_seq: int


@dataclass(frozen=True, slots=True)
class Resync:
    """Check Postgres for events this socket has not seen (after a broker outage, and now and then)."""


@dataclass(frozen=True, slots=True)
class Live:
    """An event from the broker, with its frame serialised once for every socket that follows it."""

    event: OrderEvent
    text: str


@dataclass(frozen=True, slots=True)
class Frame:
    """A frame that is not an order event (errors)."""

    payload: dict[str, Any]


Item = Live | Follow | Resync | Frame


@dataclass(eq=False, slots=True)
class Session:
    """One WebSocket: its inbox, and the last seq sent for each order it follows."""

    ws: Socket
    hub: Hub
    db: Database
    metrics: Metrics
    single: bool
    inbox: asyncio.Queue[Item]
    client: str
    max_subscriptions: int
    sent: dict[uuid.UUID, int] = field(default_factory=dict)
    following: set[uuid.UUID] = field(default_factory=set)
    closing: bool = False
    # The close of a client too slow to read, a task of its own: the writer may be stuck sending to it.
    closer: asyncio.Task[None] | None = None

    def offer(self, item: Item) -> None:
        """Queue an item for the writer; a client that lets the queue fill is closed with 1013."""
        if self.closing:
            return
        try:
            self.inbox.put_nowait(item)
        except asyncio.QueueFull:
            self.metrics.ws_slow_consumer_closes.inc()
            log.warning("ws_slow_consumer", queued=self.inbox.qsize())
            self.closing = True
            self.closer = asyncio.create_task(
                self.close(protocol.TRY_AGAIN_LATER, "too slow to read"), name="ws-slow-close"
            )

    def follow(self, order_id: uuid.UUID, after_seq: int) -> None:
        """Register with the hub first, then ask for the snapshot: no event can fall between the two."""
        if order_id not in self.following and len(self.following) >= self.max_subscriptions:
            self.offer(
                Frame(protocol.error(f"at most {self.max_subscriptions} orders per socket", str(order_id)))
            )
            return
        self.hub.add(order_id, self)
        self.following.add(order_id)
        self.offer(Follow(order_id, after_seq))

    def unfollow(self, order_id: uuid.UUID) -> None:
        """Stop following ``order_id``."""
        self.hub.remove(order_id, self)
        self.following.discard(order_id)

    async def close(self, code: int, reason: str = "") -> None:
        """Close the socket (once); never raises, as the writer, a task of its own and shutdown call it."""
        self.closing = True
        if self.ws.application_state is not WebSocketState.CONNECTED:
            return
        try:
            await self.ws.close(code, reason)
        except SOCKET_GONE:
            # The client left first: nobody is there to tell, and reconnecting with afterSeq loses nothing.
            pass
        except Exception:
            self.metrics.internal_errors.labels(where="notifier_close").inc()
            log.exception("ws_close_failed", code=code, **self._context())

    async def closed(self) -> None:
        """Wait for the close of a client too slow to read, if `offer` began one (it never raises)."""
        if self.closer is not None:
            await self.closer

    async def run(self) -> None:
        """The writer: send what the inbox holds, in order, until the socket closes.

        A failure of ours (Postgres unreachable, a bug) is logged, counted and closes the socket with 1011,
        so that the client reconnects (with afterSeq, losing nothing) instead of waiting on a dead stream.
        """
        try:
            await self._write()
        except SOCKET_GONE:
            # The socket closed under the writer: what it did not send is in Postgres for the reconnect.
            return
        except Exception:
            self.metrics.internal_errors.labels(where="notifier_writer").inc()
            log.exception("ws_writer_failed", **self._context())
            await self.close(protocol.INTERNAL_ERROR, "internal error")

    def _context(self) -> dict[str, Any]:
        # A socket may follow up to max_subscriptions orders: a few of them name it well enough.
        return {
            "client": self.client,
            "following": len(self.following),
            "order_ids": sorted(str(order_id) for order_id in self.following)[:10],
        }

    async def _write(self) -> None:
        held: Item | None = None
        while not self.closing:
            item = held if held is not None else await self.inbox.get()
            held = None
            if isinstance(item, Follow):
                # Follows queued back to back are answered from one query, still in their order; the
                # first other item stops the batch and is handled right after it.
                follows = [item]
                while len(follows) < _FOLLOW_BATCH and not self.inbox.empty():
                    following = self.inbox.get_nowait()
                    if not isinstance(following, Follow):
                        held = following
                        break
                    follows.append(following)
                await self._start(follows)
            elif isinstance(item, Frame):
                await self.ws.send_json(item.payload)
            elif isinstance(item, Resync):
                await self._resync()
            else:
                await self._live(item)

    async def _start(self, follows: list[Follow]) -> None:
        async with self.db.connection() as conn:
            # Another client's order is, for this one, an order that does not exist.
            snapshots = await read_snapshots(conn, [(f.order_id, f.after_seq) for f in follows], self.client)
        for follow, snapshot in zip(follows, snapshots, strict=True):
            if self.closing:
                return
            if snapshot is None:
                self.unfollow(follow.order_id)
                await self.ws.send_json(protocol.error("order not found", str(follow.order_id)))
                if self.single:
                    await self.close(protocol.POLICY_VIOLATION, "order not found")
                continue
            self.sent[follow.order_id] = follow.after_seq
            await self._send(snapshot.events)
            if (
                self.single
                and snapshot.status in TERMINAL
                and snapshot.last_seq <= self.sent[follow.order_id]
            ):
                await self._finish(follow.order_id)

    async def _resync(self) -> None:
        wanted = [(order_id, last) for order_id, last in self.sent.items() if order_id in self.following]
        if not wanted:
            return
        async with self.db.connection() as conn:
            found = await events_after(conn, wanted)
        for events in found:
            await self._send(events)

    async def _live(self, live: Live) -> None:
        event = live.event
        last = self.sent.get(event.order_id)
        if last is None or event.seq <= last:
            return
        if event.seq > last + 1:
            async with self.db.connection() as conn:
                await self._send(await read_events(conn, event.order_id, last))
        else:
            await self._send([live])

    async def _send(self, events: Iterable[OrderEvent | Live]) -> None:
        for item in events:
            event, text = (item.event, item.text) if isinstance(item, Live) else (item, None)
            last = self.sent.get(event.order_id, 0)
            if event.seq <= last:
                continue
            await self.ws.send_text(text if text is not None else frame_text(event))
            self.sent[event.order_id] = event.seq
            self.metrics.ws_messages_sent.inc()
            self.metrics.event_delivery_lag.observe(max(0.0, time.time() - event.at.timestamp()))
            if event.status in TERMINAL:
                await self._finish(event.order_id)

    async def _finish(self, order_id: uuid.UUID) -> None:
        self.unfollow(order_id)
        if self.single:
            await self.close(protocol.NORMAL, "order finished")


@dataclass(slots=True)
class Hub:
    """Routes each live event to the sessions following its order."""

    followers: dict[uuid.UUID, set[Session]] = field(default_factory=dict)
    sessions: set[Session] = field(default_factory=set)

    def add(self, order_id: uuid.UUID, session: Session) -> None:
        """``session`` follows ``order_id``."""
        self.followers.setdefault(order_id, set()).add(session)

    def remove(self, order_id: uuid.UUID, session: Session) -> None:
        """``session`` no longer follows ``order_id``."""
        followers = self.followers.get(order_id)
        if followers is not None:
            followers.discard(session)
            if not followers:
                del self.followers[order_id]

    def forget(self, session: Session) -> None:
        """Drop every subscription of a closed session."""
        self.sessions.discard(session)
        for order_id in tuple(session.following):
            session.unfollow(order_id)

    def connections(self, client: str) -> int:
        """Open sockets of ``client`` on this replica."""
        return sum(1 for s in self.sessions if s.client == client)

    def dispatch(self, event: OrderEvent) -> None:
        """Hand ``event`` to every session following its order, serialised once for all of them."""
        followers = self.followers.get(event.order_id)
        if not followers:
            return
        live = Live(event, frame_text(event))
        for session in tuple(followers):
            session.offer(live)

    def resync_all(self) -> None:
        """Have every socket look in Postgres for events the broker did not bring."""
        for session in tuple(self.sessions):
            if session.following:
                session.offer(Resync())

    async def close_all(self, code: int) -> None:
        """Close every socket (on shutdown, 1001 so clients reconnect elsewhere)."""
        await asyncio.gather(*(s.close(code, "server shutting down") for s in tuple(self.sessions)))
