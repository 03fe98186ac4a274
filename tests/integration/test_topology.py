"""The RabbitMQ topology on a real broker: idempotent, routed as drawn, retries come back."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import aio_pika
import pytest
import pytest_asyncio
from aio_pika.abc import AbstractChannel, AbstractRobustConnection

from orders_shared.amqp import publish
from orders_shared.contracts import ExecuteOrder
from orders_shared.topology import DEAD_KEY, DEAD_QUEUE, EXECUTE_KEY, EXECUTE_QUEUE, declare, retry_key
from tests.support.infra import vhost_connection

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest_asyncio.fixture(loop_scope="session")
async def connection() -> AsyncIterator[AbstractRobustConnection]:
    # A vhost of its own: these tests declare the topology with test-sized delays.
    async with vhost_connection("orders-topology", "topology-tests") as conn:
        yield conn


async def _get(channel: AbstractChannel, queue: str, within: float = 10) -> ExecuteOrder:
    q = await channel.get_queue(queue, ensure=False)
    async with q.iterator(timeout=within) as messages:
        async for message in messages:
            await message.ack()
            return ExecuteOrder.model_validate_json(message.body)
    raise AssertionError(f"nothing arrived on {queue}")


async def test_declare_twice_is_a_no_op(connection: AbstractRobustConnection) -> None:
    channel = await connection.channel()
    await declare(channel, retry_base_delay_ms=20)
    await declare(channel, retry_base_delay_ms=20)
    queue = await channel.declare_queue(EXECUTE_QUEUE, passive=True)
    assert queue.name == EXECUTE_QUEUE


async def test_execute_message_reaches_the_work_queue(connection: AbstractRobustConnection) -> None:
    channel = await connection.channel()
    topology = await declare(channel, retry_base_delay_ms=20)
    sent = ExecuteOrder(order_id=uuid.uuid4(), attempt=1)
    await publish(topology.orders, EXECUTE_KEY, sent)
    assert await _get(channel, EXECUTE_QUEUE) == sent


async def test_retry_comes_back_to_the_work_queue_after_its_delay(
    connection: AbstractRobustConnection,
) -> None:
    channel = await connection.channel()
    topology = await declare(channel, retry_base_delay_ms=20)
    sent = ExecuteOrder(order_id=uuid.uuid4(), attempt=2)
    await publish(topology.orders, retry_key(1), sent)
    assert await _get(channel, EXECUTE_QUEUE) == sent


async def test_rejected_message_is_dead_lettered(connection: AbstractRobustConnection) -> None:
    channel = await connection.channel()
    topology = await declare(channel, retry_base_delay_ms=20)
    sent = ExecuteOrder(order_id=uuid.uuid4(), attempt=1)
    await publish(topology.orders, EXECUTE_KEY, sent)
    queue = await channel.get_queue(EXECUTE_QUEUE, ensure=False)
    async with queue.iterator(timeout=10) as messages:
        async for message in messages:
            await message.reject(requeue=False)
            break
    assert await _get(channel, DEAD_QUEUE) == sent


async def test_dead_key_routes_to_dead_queue(connection: AbstractRobustConnection) -> None:
    channel = await connection.channel()
    topology = await declare(channel, retry_base_delay_ms=20)
    sent = ExecuteOrder(order_id=uuid.uuid4(), attempt=3)
    await publish(topology.orders, DEAD_KEY, sent)
    assert await asyncio.wait_for(_get(channel, DEAD_QUEUE), 10) == sent


async def test_persistent_messages_are_marked_persistent(connection: AbstractRobustConnection) -> None:
    channel = await connection.channel()
    topology = await declare(channel, retry_base_delay_ms=20)
    await publish(topology.orders, EXECUTE_KEY, ExecuteOrder(order_id=uuid.uuid4(), attempt=1))
    queue = await channel.get_queue(EXECUTE_QUEUE, ensure=False)
    message = await queue.get(timeout=10)
    assert message is not None
    assert message.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
    await message.ack()
