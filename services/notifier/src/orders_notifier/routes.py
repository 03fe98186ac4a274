"""The WebSocket endpoint `/api/orders/ws`, compatible with the seed's."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

from fastapi import APIRouter, WebSocket
from starlette.types import Message

from orders_notifier import protocol
from orders_notifier.access import SUBPROTOCOL, MessageLimit, offered_protocols
from orders_notifier.hub import SOCKET_GONE, Frame, Session
from orders_notifier.state import NotifierState

router = APIRouter()


@dataclass(frozen=True, slots=True)
class Target:
    """What the URL asks for: one order (closed after its terminal event) from after a seq, or none yet."""

    order_id: uuid.UUID | None
    after_seq: int


@router.websocket("/api/orders/ws")
async def order_stream(ws: WebSocket) -> None:
    """`?orderId=…[&afterSeq=n]` follows one order and closes after its terminal event;
    without `orderId`, send `{"action":"subscribe","orderIds":[…]}` to follow many."""
    state: NotifierState = ws.state.notifier
    client = await _admit(ws, state)
    if client is None:
        return
    target = await _target(ws)
    if target is None:
        return
    session = state.open_session(ws, client, single=target.order_id is not None)
    async with _writing(state, session) as writer:
        await ws.send_json(protocol.connected(target.order_id))
        if target.order_id is not None:
            session.follow(target.order_id, target.after_seq)
        await _read(ws, session, writer, state.gate.messages)


async def _admit(ws: WebSocket, state: NotifierState) -> str | None:
    """Accept the handshake; the client, or None once it is told why it may not stay and closed."""
    gate = state.gate
    client = await gate.identify(ws)
    await ws.accept(subprotocol=SUBPROTOCOL if SUBPROTOCOL in offered_protocols(ws) else None)
    if client is None:
        await _refuse(
            ws,
            "unauthorized: send an API key (Authorization: Bearer) or a ticket",
            protocol.POLICY_VIOLATION,
            "unauthorized",
        )
        return None
    if state.hub.connections(client) >= gate.max_connections_per_client:
        await _refuse(
            ws,
            f"at most {gate.max_connections_per_client} open sockets per client",
            protocol.TRY_AGAIN_LATER,
            "too many sockets",
        )
        return None
    return client


async def _target(ws: WebSocket) -> Target | None:
    """The order and seq the URL names; None once a malformed one is answered and the socket closed."""
    order_id, after_seq = ws.query_params.get("orderId"), ws.query_params.get("afterSeq")
    try:
        target = Target(
            uuid.UUID(order_id) if order_id is not None else None,
            int(after_seq) if after_seq is not None else 0,
        )
    except ValueError:
        target = None
    if target is None or target.after_seq < 0:
        await _refuse(
            ws,
            "orderId must be a UUID and afterSeq a non-negative integer",
            protocol.POLICY_VIOLATION,
            "bad orderId or afterSeq",
        )
        return None
    return target


async def _refuse(ws: WebSocket, error: str, code: int, reason: str) -> None:
    await ws.send_json(protocol.error(error))
    await ws.close(code, reason)


@contextlib.asynccontextmanager
async def _writing(state: NotifierState, session: Session) -> AsyncIterator[asyncio.Task[None]]:
    """The session's writer task while the block runs; then the writer stopped and the session closed."""
    writer = asyncio.create_task(session.run(), name="ws-writer")
    try:
        yield writer
    finally:
        try:
            writer.cancel()
            # Waited for, not awaited: the writer logs and counts its own failures (`Session.run`), and
            # a cancellation of this handler still propagates. So does a slow client's close.
            await asyncio.wait({writer})
            await session.closed()
        finally:
            state.close_session(session)


async def _read(ws: WebSocket, session: Session, writer: asyncio.Task[None], limit: MessageLimit) -> None:
    """Take subscribe requests until the client leaves or the writer stops (it closed the socket)."""
    socket = uuid.uuid4()
    while not writer.done():
        message = await _receive(ws, writer)
        if message is None or message["type"] == "websocket.disconnect":
            return  # the writer stopped, or the client left
        if not await limit.allow(socket):
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


async def _receive(ws: WebSocket, writer: asyncio.Task[None]) -> Message | None:
    """The client's next message; None if the writer stopped first (it closed the socket) or the socket
    closed while we read."""
    # receive(), not receive_text(): a binary frame has no text, and receive_text() would fail on it.
    receive = asyncio.create_task(ws.receive())
    done, _ = await asyncio.wait({receive, writer}, return_when=asyncio.FIRST_COMPLETED)
    if receive not in done:
        # The writer stopped (it closed the socket, or failed and said so): stop reading. Our own cancel,
        # or the client leaving at the same moment, is how this receive ends, and no news.
        receive.cancel()
        await asyncio.wait({receive})
        if not receive.cancelled():
            with contextlib.suppress(*SOCKET_GONE):
                receive.result()
        return None
    try:
        return receive.result()
    except SOCKET_GONE:
        # The writer closed the socket while we read: the stream is over.
        return None
