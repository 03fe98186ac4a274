"""The notifier's hub and a socket's writer against the real Postgres, without the service processes.

The hub and sessions are built as the notifier's `/api/orders/ws` builds them; the socket is an object in
memory that keeps what it is sent and refuses to send once closed, as Starlette's does. Live events are
the ones `advance` returns, which the worker publishes; `hub.dispatch` is what the subscriber calls for
each one the broker brings, so a doorbell RabbitMQ lost is an event never dispatched.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.websockets import WebSocketDisconnected, WebSocketState
from structlog.testing import capture_logs

from orders_notifier import protocol
from orders_notifier.hub import Frame, Hub, Session, frame_text
from orders_shared.contracts import OrderEvent
from orders_shared.db import Database
from orders_shared.metrics import Metrics, create_metrics
from orders_shared.status import Status
from orders_worker.repository import advance
from tests.support.orders import new_order

pytestmark = pytest.mark.asyncio(loop_scope="session")

CLIENT = "hub-tests"
WAIT_S = 5


class MemorySocket:
    """A connected WebSocket in memory: the frames sent on it, in order, and its close code."""

    def __init__(self) -> None:
        self.application_state = WebSocketState.CONNECTED
        self.frames: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.closed: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    async def send_text(self, data: str) -> None:
        """Keep the frame, as the client would read it."""
        self._ensure_open()
        self.frames.put_nowait(json.loads(data))

    async def send_json(self, data: Any, mode: str = "text") -> None:
        """Keep the frame."""
        await self.send_text(json.dumps(data))

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        """Record the close code."""
        self._ensure_open()
        self.application_state = WebSocketState.DISCONNECTED
        self.closed.set_result(code)

    def _ensure_open(self) -> None:
        if self.application_state is not WebSocketState.CONNECTED:
            raise WebSocketDisconnected('Cannot call "send" once a close message has been sent.')

    async def next_frame(self) -> dict[str, Any]:
        """The next frame sent, within the deadline."""
        return await asyncio.wait_for(self.frames.get(), timeout=WAIT_S)


def _session(hub: Hub, db: Database, metrics: Metrics, socket: MemorySocket) -> Session:
    """A multi-order socket's session, as `routes.order_stream` builds it."""
    session = Session(
        ws=socket,
        hub=hub,
        db=db,
        metrics=metrics,
        single=False,
        inbox=asyncio.Queue(maxsize=64),
        client=CLIENT,
        max_subscriptions=500,
    )
    hub.sessions.add(session)
    return session


@asynccontextmanager
async def _writing(session: Session) -> AsyncIterator[asyncio.Task[None]]:
    """The session's writer task, stopped afterwards as the endpoint stops it."""
    writer = asyncio.create_task(session.run(), name="ws-writer")
    try:
        yield writer
    finally:
        writer.cancel()
        await asyncio.wait({writer})
        session.hub.forget(session)


async def _advance(db: Database, order_id: Any, seq: int, expected: Status, new: Status) -> OrderEvent:
    """One worker step on the order: the event it commits, and would publish."""
    async with db.connection() as pg:
        event = await advance(pg, order_id, expected=expected, expected_seq=seq, new=new, detail={})
    assert event is not None
    return event


def _sent(metrics: Metrics) -> float | None:
    return metrics.registry.get_sample_value("ws_messages_sent_total")


async def test_live_event_after_a_gap_is_preceded_by_the_missing_seqs_from_postgres_each_once(
    engine: AsyncEngine, db: Database
) -> None:
    order_id = await new_order(engine, CLIENT)
    hub, metrics, socket = Hub(), create_metrics(), MemorySocket()
    session = _session(hub, db, metrics, socket)
    async with _writing(session):
        session.follow(order_id, after_seq=0)
        first = await socket.next_frame()
        assert (first["seq"], first["status"]) == (1, "pending")

        routing = await _advance(db, order_id, 1, Status.PENDING, Status.ROUTING)
        building = await _advance(db, order_id, 2, Status.ROUTING, Status.BUILDING)
        hub.dispatch(building)  # seq 2's doorbell was lost: the first live event is seq 3
        hub.dispatch(building)  # RabbitMQ brings it again
        hub.dispatch(routing)  # and seq 2 turns up late
        submitted = await _advance(db, order_id, 3, Status.BUILDING, Status.SUBMITTED)
        hub.dispatch(submitted)

        # The inbox is first in, first out: once seq 4 is out, every earlier item has been handled.
        frames = [await socket.next_frame() for _ in range(3)]
        assert frames == [json.loads(frame_text(e)) for e in (routing, building, submitted)]
        assert [(f["seq"], f["status"]) for f in frames] == [
            (2, "routing"),
            (3, "building"),
            (4, "submitted"),
        ]
        assert socket.frames.empty()
        assert session.inbox.empty()
        assert _sent(metrics) == 4
        assert not socket.closed.done()


async def test_live_event_queued_behind_the_follow_is_not_sent_again_after_the_snapshot(
    engine: AsyncEngine, db: Database
) -> None:
    order_id = await new_order(engine, CLIENT)
    routing = await _advance(db, order_id, 1, Status.PENDING, Status.ROUTING)
    hub, metrics, socket = Hub(), create_metrics(), MemorySocket()
    session = _session(hub, db, metrics, socket)
    # Registered with the hub before the snapshot is read, so seq 2 reaches the inbox behind the follow
    # and after the snapshot that already holds it.
    session.follow(order_id, after_seq=0)
    hub.dispatch(routing)
    async with _writing(session):
        building = await _advance(db, order_id, 2, Status.ROUTING, Status.BUILDING)
        hub.dispatch(building)
        frames = [await socket.next_frame() for _ in range(3)]
    assert [(f["seq"], f["status"]) for f in frames] == [(1, "pending"), (2, "routing"), (3, "building")]
    assert socket.frames.empty()
    assert _sent(metrics) == 3


async def test_writer_that_fails_is_logged_counted_and_closes_the_socket_with_1011(
    engine: AsyncEngine, database_url: str
) -> None:
    order_id = await new_order(engine, CLIENT)
    # A database that is closed (as at shutdown) fails every read: the writer cannot send the snapshot.
    async with Database(database_url, size=1, application_name="orders-tests") as closed_db:
        pass
    hub, metrics, socket = Hub(), create_metrics(), MemorySocket()
    session = _session(hub, closed_db, metrics, socket)
    with capture_logs() as logs:
        async with _writing(session) as writer:
            session.follow(order_id, after_seq=0)
            assert await asyncio.wait_for(socket.closed, timeout=WAIT_S) == protocol.INTERNAL_ERROR
            await asyncio.wait_for(writer, timeout=WAIT_S)  # it ended, and raised nothing
    assert socket.frames.empty()
    assert metrics.registry.get_sample_value("internal_errors_total", {"where": "notifier_writer"}) == 1
    (failure,) = [entry for entry in logs if entry["event"] == "ws_writer_failed"]
    assert failure["log_level"] == "error"
    assert failure["exc_info"] is True
    assert failure["client"] == CLIENT
    assert failure["order_ids"] == [str(order_id)]


async def test_writer_stopped_by_a_closed_socket_reports_nothing(engine: AsyncEngine, db: Database) -> None:
    order_id = await new_order(engine, CLIENT)
    hub, metrics, socket = Hub(), create_metrics(), MemorySocket()
    session = _session(hub, db, metrics, socket)
    with capture_logs() as logs:
        async with _writing(session) as writer:
            session.follow(order_id, after_seq=0)
            await socket.next_frame()
            # The client is gone: the socket refuses the next frame, as Starlette's does.
            socket.application_state = WebSocketState.DISCONNECTED
            hub.dispatch(await _advance(db, order_id, 1, Status.PENDING, Status.ROUTING))
            await asyncio.wait_for(writer, timeout=WAIT_S)
    assert metrics.registry.get_sample_value("internal_errors_total", {"where": "notifier_writer"}) is None
    assert [entry for entry in logs if entry["log_level"] in {"error", "warning"}] == []


class StuckSocket(MemorySocket):
    """A client that never reads: a frame sent waits until the socket is closed, then fails."""

    async def send_text(self, data: str) -> None:
        """Wait for the close, as a send blocked on a full TCP window does, then refuse."""
        self._ensure_open()
        await asyncio.shield(self.closed)
        self._ensure_open()


async def test_client_too_slow_to_read_is_closed_with_1013_by_a_task_the_session_keeps(db: Database) -> None:
    hub, metrics, socket = Hub(), create_metrics(), StuckSocket()
    session = _session(hub, db, metrics, socket)
    async with _writing(session) as writer:
        # Queued before the writer first runs: the inbox (64) fills, and the next frame closes the socket.
        for n in range(65):
            session.offer(Frame(protocol.error(f"frame {n}")))
        closer = session.closer
        assert closer is not None
        assert await asyncio.wait_for(socket.closed, timeout=WAIT_S) == protocol.TRY_AGAIN_LATER
        await asyncio.wait_for(writer, timeout=WAIT_S)  # its send failed on the closed socket: it ended
        await asyncio.wait_for(session.closed(), timeout=WAIT_S)
    assert closer.done()
    assert closer.exception() is None
    assert metrics.registry.get_sample_value("ws_slow_consumer_closes_total") == 1
