"""The WebSocket endpoint `/api/orders/ws`, compatible with the seed's."""

from __future__ import annotations

import asyncio
import contextlib
import uuid

from fastapi import APIRouter, WebSocket

from orders_notifier import protocol
from orders_notifier.access import SUBPROTOCOL, Gate, MessageBudget, offered_protocols
from orders_notifier.hub import SOCKET_GONE, Frame, Hub, Session
from orders_shared.logging import get_logger

router = APIRouter()
log = get_logger()


def _parse_query(order_id: str | None, after_seq: str | None) -> tuple[uuid.UUID | None, int]:
    parsed = uuid.UUID(order_id) if order_id is not None else None
    after = int(after_seq) if after_seq is not None else 0
    if after < 0:
        raise ValueError("afterSeq must not be negative")
    return parsed, after


@router.websocket("/api/orders/ws")
async def order_stream(ws: WebSocket) -> None:
    """`?orderId=…[&afterSeq=n]` follows one order and closes after its terminal event;
    without `orderId`, send `{"action":"subscribe","orderIds":[…]}` to follow many."""
    state = ws.state
    hub: Hub = state.hub
    gate: Gate = state.gate
    client = await gate.identify(ws)
    await ws.accept(subprotocol=SUBPROTOCOL if SUBPROTOCOL in offered_protocols(ws) else None)
    if client is None:
        await ws.send_json(
            protocol.error("unauthorized: send an API key (Authorization: Bearer) or a ticket")
        )
        await ws.close(protocol.POLICY_VIOLATION, "unauthorized")
        return
    if hub.connections(client) >= gate.max_connections_per_client:
        await ws.send_json(
            protocol.error(f"at most {gate.max_connections_per_client} open sockets per client")
        )
        await ws.close(protocol.TRY_AGAIN_LATER, "too many sockets")
        return
    try:
        order_id, after_seq = _parse_query(ws.query_params.get("orderId"), ws.query_params.get("afterSeq"))
    except ValueError:
        await ws.send_json(protocol.error("orderId must be a UUID and afterSeq a non-negative integer"))
        await ws.close(protocol.POLICY_VIOLATION, "bad orderId or afterSeq")
        return
    session = Session(
        ws=ws,
        hub=hub,
        pool=state.pool,
        metrics=state.metrics,
        single=order_id is not None,
        inbox=asyncio.Queue(maxsize=state.send_queue),
        client=client,
        max_subscriptions=gate.max_subscriptions,
    )
    hub.sessions.add(session)
    state.metrics.ws_connections.inc()
    writer = asyncio.create_task(session.run(), name="ws-writer")
    try:
        await ws.send_json(protocol.connected(order_id))
        if order_id is not None:
            session.follow(order_id, after_seq)
        await _read(ws, session, writer, MessageBudget(gate.messages_per_s))
    finally:
        try:
            writer.cancel()
            # Waited for, not awaited: the writer logs and counts its own failures (`Session.run`), and
            # a cancellation of this handler still propagates.
            await asyncio.wait({writer})
        finally:
            hub.forget(session)
            state.metrics.ws_connections.dec()


async def _read(ws: WebSocket, session: Session, writer: asyncio.Task[None], budget: MessageBudget) -> None:
    """Take subscribe requests until the client leaves or the writer stops (it closed the socket)."""
    while not writer.done():
        # receive(), not receive_text(): a binary frame has no text, and receive_text() would fail on it.
        receive = asyncio.create_task(ws.receive())
        done, _ = await asyncio.wait({receive, writer}, return_when=asyncio.FIRST_COMPLETED)
        if receive not in done:
            # The writer stopped (it closed the socket, or failed and said so): stop reading. Our own
            # cancel, or the client leaving at the same moment, is how this receive ends, and no news.
            receive.cancel()
            await asyncio.wait({receive})
            if not receive.cancelled():
                with contextlib.suppress(*SOCKET_GONE):
                    receive.result()
            return
        try:
            message = receive.result()
        except SOCKET_GONE:
            # The writer closed the socket while we read: the stream is over.
            return
        if message["type"] == "websocket.disconnect":
            return  # the client left
        if not budget.spend():
            await session.close(protocol.POLICY_VIOLATION, "too many messages")
            return
        text = message.get("text")
        if text is None:
            session.offer(Frame(protocol.error("send messages as JSON in text frames, not binary")))
            continue
        try:
            request = protocol.parse_client_message(text)
        except ValueError as exc:
            session.offer(Frame(protocol.error(str(exc))))
            continue
        for order_id in request.order_ids:
            session.follow(order_id, request.after_seq)
