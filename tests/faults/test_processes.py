"""Workers and notifiers killed or stopped mid-order: nothing lost, nothing twice, no seq gaps."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import uuid
from decimal import Decimal

import httpx
import pytest
import websockets
from sqlalchemy.ext.asyncio import AsyncEngine

from orders_shared.amqp import connect, publish
from orders_shared.contracts import ExecuteOrder
from orders_shared.topology import EXECUTE_KEY, declare
from tests.conftest import StackFactory
from tests.faults.conftest import submit, wait_all_terminal
from tests.support.orders import new_order
from tests.support.reconcile import assert_all_confirmed
from tests.support.streams import follow, next_frame, read_until_closed

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def _until_status(ws_base: str, order_ids: list[uuid.UUID], status: str, within: float = 30) -> None:
    """Return once any of the orders reaches ``status``."""
    async with websockets.connect(f"{ws_base}/api/orders/ws") as ws:
        await next_frame(ws)
        await ws.send(json.dumps({"action": "subscribe", "orderIds": [str(i) for i in order_ids]}))
        async with asyncio.timeout(within):
            while (await next_frame(ws))["status"] != status:
                pass


def _assert_gap_free(streams: dict[uuid.UUID, list[dict[str, object]]]) -> None:
    for order_id, events in streams.items():
        assert [e["seq"] for e in events] == list(range(1, len(events) + 1)), order_id
        assert events[0]["status"] == "pending"


async def test_worker_killed_holding_orders_another_finishes_each_once(
    make_stack: StackFactory, engine: AsyncEngine
) -> None:
    stack = await make_stack(
        WORKER_CONCURRENCY="20", VENUE_QUOTE_LATENCY_MS="5-10", VENUE_EXECUTE_LATENCY_MS="1500-2500"
    )
    ids = await submit(stack.api, 12)
    await _until_status(stack.ws, ids, "submitted")
    stack.services["worker"].stop(signal.SIGKILL)
    await make_stack.add(stack, "worker", key="second-worker")
    streams = await wait_all_terminal(stack.ws, ids)
    _assert_gap_free(streams)
    await assert_all_confirmed(engine, ids)


async def test_sigterm_drains_the_worker_and_hands_back_what_it_could_not_finish(
    make_stack: StackFactory, engine: AsyncEngine
) -> None:
    stack = await make_stack(
        WORKER_CONCURRENCY="20",
        SHUTDOWN_GRACE_S="0.5",
        VENUE_QUOTE_LATENCY_MS="5-10",
        VENUE_EXECUTE_LATENCY_MS="1500-2500",
    )
    ids = await submit(stack.api, 8)
    await _until_status(stack.ws, ids, "submitted")
    assert stack.services["worker"].stop(signal.SIGTERM) == 0
    await make_stack.add(stack, "worker", key="second-worker")
    streams = await wait_all_terminal(stack.ws, ids)
    _assert_gap_free(streams)
    await assert_all_confirmed(engine, ids)


async def test_duplicate_execute_message_trades_once(make_stack: StackFactory, engine: AsyncEngine) -> None:
    stack = await make_stack(VENUE_QUOTE_LATENCY_MS="5-10", VENUE_EXECUTE_LATENCY_MS="300")
    connection = await connect(stack.env["AMQP_URL"], name="fault-test")
    try:
        topology = await declare(await connection.channel())
        ids = await submit(stack.api, 3)
        for order_id in ids:
            await publish(topology.orders, EXECUTE_KEY, ExecuteOrder(order_id=order_id, attempt=1))
            await publish(topology.orders, EXECUTE_KEY, ExecuteOrder(order_id=order_id, attempt=1))
    finally:
        await connection.close()
    streams = await wait_all_terminal(stack.ws, ids)
    for events in streams.values():
        assert [e["status"] for e in events] == ["pending", "routing", "building", "submitted", "confirmed"]
        assert [e["seq"] for e in events] == [1, 2, 3, 4, 5]
    await assert_all_confirmed(engine, ids)


async def test_notifier_killed_client_resumes_with_after_seq_and_sees_each_seq_once(
    make_stack: StackFactory,
) -> None:
    stack = await make_stack(VENUE_QUOTE_LATENCY_MS="5-10", VENUE_EXECUTE_LATENCY_MS="2000-2500")
    [order_id] = await submit(stack.api, 1)
    seen: list[dict[str, object]] = []
    async with websockets.connect(f"{stack.ws}/api/orders/ws?orderId={order_id}") as ws:
        await next_frame(ws)
        while not seen or seen[-1]["status"] != "submitted":
            seen.append(await next_frame(ws))
        stack.services["notifier"].stop(signal.SIGKILL)
        await read_until_closed(ws, within=10)
    replacement = await make_stack.add(stack, "notifier", key="second-notifier")
    ws_base = replacement.url.replace("http://", "ws://")
    rest, code = await follow(ws_base, str(order_id), after_seq=int(str(seen[-1]["seq"])))
    events = seen + rest[1:]
    assert [e["seq"] for e in events] == [1, 2, 3, 4, 5]
    assert events[-1]["status"] == "confirmed"
    assert code == 1000


async def test_sigterm_on_the_notifier_closes_sockets_with_1001(make_stack: StackFactory) -> None:
    stack = await make_stack(VENUE_QUOTE_LATENCY_MS="5-10", VENUE_EXECUTE_LATENCY_MS="5000")
    [order_id] = await submit(stack.api, 1)
    async with websockets.connect(f"{stack.ws}/api/orders/ws?orderId={order_id}") as ws:
        await next_frame(ws)
        await next_frame(ws)
        stopping = asyncio.get_running_loop().run_in_executor(None, stack.services["notifier"].stop)
        await read_until_closed(ws, within=15)
        assert await stopping == 0
    assert ws.close_code == 1001


async def test_every_subscriber_on_every_notifier_replica_gets_every_event(make_stack: StackFactory) -> None:
    stack = await make_stack(VENUE_QUOTE_LATENCY_MS="20-40", VENUE_EXECUTE_LATENCY_MS="300-500")
    second = await make_stack.add(stack, "notifier", key="second-notifier")
    bases = [stack.ws, second.url.replace("http://", "ws://")]
    [order_id] = await submit(stack.api, 1)
    results = await asyncio.gather(*(follow(base, str(order_id)) for base in bases for _ in range(3)))
    for frames, code in results:
        assert [f.get("seq") for f in frames[1:]] == [1, 2, 3, 4, 5]
        assert code == 1000


async def test_client_that_does_not_read_is_closed_with_1013(make_stack: StackFactory) -> None:
    stack = await make_stack(
        VENUE_QUOTE_LATENCY_MS="0",
        VENUE_EXECUTE_LATENCY_MS="0",
        WS_SEND_QUEUE="16",
        WS_MAX_MESSAGES_PER_S="10000",
    )
    ids = await submit(stack.api, 10)
    await wait_all_terminal(stack.ws, ids)
    subscribe = json.dumps({"action": "subscribe", "orderIds": [str(i) for i in ids]})
    notifier = stack.services["notifier"]

    async def slow_closes(client: httpx.AsyncClient) -> float:
        text = (await client.get(f"{notifier.url}/metrics")).text
        return next(
            float(line.split()[1])
            for line in text.splitlines()
            if line.startswith("ws_slow_consumer_closes_total")
        )

    # A tiny receive window and no reading: the server's sends back up until its queue overflows.
    # How much the kernel buffers before that depends on the machine (send-buffer autotuning reaches
    # megabytes), so each step is kept cheap and the bound is generous; here it takes ~2 s.
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", notifier.port))
    async with (
        httpx.AsyncClient() as metrics,
        websockets.connect(f"{stack.ws}/api/orders/ws", sock=sock, max_queue=1) as ws,
    ):
        steps = 0
        try:
            async with asyncio.timeout(120):
                while await slow_closes(metrics) < 1:
                    try:
                        await ws.send(subscribe)
                    except websockets.ConnectionClosed:
                        break
                    steps += 1
        except TimeoutError:
            pytest.fail(f"no 1013 after {steps} unread subscribes ({steps * 50} events)")
        # Now read: the backlog, then the close frame the server queued behind it.
        await read_until_closed(ws, within=30)
        assert await slow_closes(metrics) >= 1
    # On a loaded machine the server may give up waiting for our close reply and drop the connection
    # before we read its close frame; when the frame arrived, it said 1013.
    assert ws.close_code in (1013, 1006)
    if ws.protocol.close_rcvd is not None:
        assert ws.protocol.close_rcvd.code == 1013


async def test_sweeper_hands_a_stuck_order_to_a_worker_again(
    make_stack: StackFactory, engine: AsyncEngine
) -> None:
    stack = await make_stack(
        STUCK_AFTER_S="1", SWEEP_INTERVAL_S="0.2", VENUE_QUOTE_LATENCY_MS="0", VENUE_EXECUTE_LATENCY_MS="0"
    )
    # An order marked as published whose message never reached the queue: only the sweeper can save it.
    order_id = await new_order(engine, "anonymous", Decimal("0.25"))
    streams = await wait_all_terminal(stack.ws, [order_id], within=30)
    assert [e["status"] for e in streams[order_id]] == [
        "pending",
        "routing",
        "building",
        "submitted",
        "confirmed",
    ]
    async with httpx.AsyncClient() as client:
        metrics = (await client.get(f"{stack.api}/metrics")).text
    requeued = next(
        float(line.split()[1]) for line in metrics.splitlines() if line.startswith("sweeper_requeued_total")
    )
    # At least once; a slow machine may sweep the order again before a worker takes it, harmlessly.
    assert requeued >= 1
