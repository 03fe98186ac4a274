"""The worker's doorbells on a real broker: events written as one payload arrive whole, in order."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import aiormq
import pytest
import pytest_asyncio
from aio_pika.abc import AbstractRobustConnection

from orders_shared.contracts import OrderEvent
from orders_shared.status import Status
from orders_shared.topology import declare
from orders_worker.doorbell import Doorbell
from tests.support.infra import vhost_connection

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest_asyncio.fixture(loop_scope="session")
async def connection() -> AsyncIterator[AbstractRobustConnection]:
    async with vhost_connection("orders-doorbell", "doorbell-tests") as conn:
        yield conn


def _event(order_id: uuid.UUID, seq: int, status: Status, **fields: object) -> OrderEvent:
    return OrderEvent.model_validate(
        {"orderId": order_id, "seq": seq, "status": status, "at": datetime.now(UTC), "attempt": 1, **fields}
    )


async def test_rung_events_arrive_in_order_with_their_routing_keys(
    connection: AbstractRobustConnection,
) -> None:
    channel = await connection.channel()
    topology = await declare(channel)
    queue = await channel.declare_queue(exclusive=True, auto_delete=True)
    await queue.bind(topology.events, "order.#")
    order_id = uuid.uuid4()
    events = [
        _event(order_id, 2, Status.ROUTING),
        _event(order_id, 3, Status.BUILDING, dexChosen="raydium"),
        # Longer than a frame (128 KiB by default): its body goes out in several body frames.
        _event(order_id, 4, Status.FAILED, errorCode="INTERNAL_ERROR", error="é" * 100_000),
    ]
    doorbells = await connection.channel(publisher_confirms=False)
    await Doorbell(doorbells).ring(events[:2])
    await Doorbell(doorbells).ring(events[2:])

    received: list[tuple[str, OrderEvent]] = []
    async with queue.iterator(timeout=10) as messages:
        async for message in messages:
            await message.ack()
            assert message.content_type == "application/json"
            received.append((message.routing_key or "", OrderEvent.model_validate_json(message.body)))
            if len(received) == len(events):
                break
    assert received == [(f"order.{e.status.value}", e) for e in events]


async def test_ringing_on_a_closed_channel_fails_at_once(connection: AbstractRobustConnection) -> None:
    doorbells = await connection.channel(publisher_confirms=False)
    await doorbells.close()
    # Well within the doorbell's own timeout: a closed channel is an error now, not a wait.
    async with asyncio.timeout(5):
        with pytest.raises(aiormq.exceptions.ChannelInvalidStateError):
            await Doorbell(doorbells, timeout_s=60).ring([_event(uuid.uuid4(), 2, Status.ROUTING)])
