"""Publishing with the group commit, against the real Postgres and RabbitMQ: every new order of a batch is
on the work queue, a few orders to a message, once its batch is through the writer, stamped published;
replays are not published."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from aio_pika.abc import AbstractChannel, AbstractQueue

from orders_api.ingest import OrderWriter
from orders_api.outbox import ORDERS_PER_MESSAGE, ExecutePublisher
from orders_shared.contracts import ExecuteOrders
from orders_shared.db import Database
from orders_shared.metrics import create_metrics
from tests.support.orders import market_order

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest_asyncio.fixture(loop_scope="session")
async def writer(db: Database, own_channel: AbstractChannel) -> AsyncIterator[OrderWriter]:
    metrics = create_metrics()
    # One flusher: a write returns only after every batch before it was published and stamped.
    publisher = ExecutePublisher(db, own_channel, metrics)
    writer = OrderWriter(db, metrics, publisher, max_batch=64, flushers=1)
    task = asyncio.create_task(writer.run())
    yield writer
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def _published(queue: AbstractQueue, count: int) -> list[uuid.UUID]:
    """The orders of the next messages on ``queue``, until ``count`` of them arrived."""
    got: list[uuid.UUID] = []
    async with queue.iterator(timeout=10) as messages:
        async for message in messages:
            await message.ack()
            assert message.type == ExecuteOrders.MESSAGE_TYPE
            batch = ExecuteOrders.model_validate_json(message.body)
            assert len(batch.order_ids) <= ORDERS_PER_MESSAGE
            got.extend(batch.order_ids)
            if len(got) >= count:
                break
    return got


async def _unstamped(db: Database, ids: list[uuid.UUID]) -> int:
    async with db.connection() as conn:
        cur = await conn.execute(
            "SELECT count(*) FROM orders WHERE id = ANY(%s) AND enqueued_at IS NULL", (ids,)
        )
        row = await cur.fetchone()
        assert row is not None
        return int(row[0])


async def test_a_batch_is_published_and_stamped_right_after_its_commit(
    db: Database, writer: OrderWriter, tap: AbstractQueue
) -> None:
    client = f"publish-{uuid.uuid4()}"
    orders = [market_order(client) for _ in range(40)]
    assert all(await asyncio.gather(*(writer.write(o) for o in orders)))
    await writer.write(market_order(client))  # behind every batch above in the one flusher

    published = await _published(tap, 41)
    assert len(published) == len(set(published)) == 41
    assert set(published) >= {o.order_id for o in orders}
    assert await _unstamped(db, [o.order_id for o in orders]) == 0


async def test_a_replayed_key_publishes_nothing_more(
    db: Database, writer: OrderWriter, tap: AbstractQueue
) -> None:
    client, key = f"publish-{uuid.uuid4()}", f"key-{uuid.uuid4()}"
    first, replay = market_order(client, key=key), market_order(client, key=key)
    assert await writer.write(first)
    assert not await writer.write(replay)
    await writer.write(market_order(client))

    ids = await _published(tap, 2)
    assert first.order_id in ids
    assert replay.order_id not in ids
