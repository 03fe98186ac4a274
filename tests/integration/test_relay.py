"""The outbox relay against the real Postgres and RabbitMQ: orders committed but never published are
published and stamped once they are older than RELAY_AFTER_S, younger ones are left to their writer, and two
relays at once publish each order once.

The relay takes every unstamped row of its database, and the e2e stack's api relays this run's shared one,
so these tests have a database (and a vhost) of their own. Rows are made old by setting ``created_at`` back.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import pytest
import pytest_asyncio
from aio_pika.abc import AbstractChannel, AbstractQueue
from prometheus_client import CollectorRegistry

from orders_api.outbox import RELAY_AFTER_S, ExecutePublisher, OutboxRelay
from orders_api.repository import insert_orders
from orders_shared.contracts import ExecuteOrders
from orders_shared.db import Database
from orders_shared.metrics import Metrics
from tests.support.orders import market_order

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest_asyncio.fixture(loop_scope="session")
async def tap(own_db: Database, tap: AbstractQueue) -> AbstractQueue:
    """The module's execute tap (conftest), the test starting with no backlog."""
    async with own_db.connection() as conn:
        await conn.execute("UPDATE orders SET enqueued_at = now() WHERE enqueued_at IS NULL")
    return tap


async def _commit_unpublished(db: Database, count: int, *, age_s: float) -> list[uuid.UUID]:
    """Commit ``count`` orders the way the api's writer does, but publish none.

    The newest was created ``age_s`` ago and each one before it a second earlier: oldest first is one order.
    """
    client = f"relay-{uuid.uuid4()}"
    orders = [market_order(client) for _ in range(count)]
    ids = [o.order_id for o in orders]
    async with db.transaction() as conn:
        assert await insert_orders(conn, orders) == set(ids)
        for n, order_id in enumerate(ids):
            await conn.execute(
                "UPDATE orders SET created_at = now() - make_interval(secs => %s) WHERE id = %s",
                (age_s + count - 1 - n, order_id),
            )
    return ids


async def _published(queue: AbstractQueue) -> list[uuid.UUID]:
    """Every order in the messages on ``queue`` now; relay_once returns only after the broker confirmed."""
    got: list[uuid.UUID] = []
    while (message := await queue.get(no_ack=True, fail=False, timeout=5)) is not None:
        assert message.type == ExecuteOrders.MESSAGE_TYPE
        got.extend(ExecuteOrders.model_validate_json(message.body).order_ids)
    return got


async def _unstamped(db: Database, ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
    async with db.connection() as conn:
        cur = await conn.execute(
            "SELECT id FROM orders WHERE id = ANY(%s) AND enqueued_at IS NULL", (list(ids),)
        )
        return {row[0] for row in await cur.fetchall()}


def _relay(
    db: Database, own_channel: AbstractChannel, metrics: Metrics, batch_size: int = 200
) -> OutboxRelay:
    publisher = ExecutePublisher(db, own_channel, metrics)
    return OutboxRelay(db, publisher, metrics, batch_size=batch_size)


async def test_old_unstamped_orders_are_published_and_stamped(
    own_db: Database,
    own_channel: AbstractChannel,
    tap: AbstractQueue,
    registry: CollectorRegistry,
    metrics: Metrics,
) -> None:
    ids = await _commit_unpublished(own_db, 20, age_s=RELAY_AFTER_S + 1)

    assert await _relay(own_db, own_channel, metrics).relay_once() == 20

    published = await _published(tap)
    assert sorted(published) == sorted(ids)
    assert await _unstamped(own_db, ids) == set()
    assert registry.get_sample_value("outbox_published_total") == 20


async def test_a_relay_takes_the_oldest_first_and_the_rest_next_time(
    own_db: Database, own_channel: AbstractChannel, tap: AbstractQueue, metrics: Metrics
) -> None:
    ids = await _commit_unpublished(own_db, 7, age_s=RELAY_AFTER_S + 1)  # oldest first
    relay = _relay(own_db, own_channel, metrics, batch_size=5)

    assert await relay.relay_once() == 5
    assert sorted(await _published(tap)) == sorted(ids[:5])
    assert await _unstamped(own_db, ids) == set(ids[5:])

    assert await relay.relay_once() == 2
    assert sorted(await _published(tap)) == sorted(ids[5:])
    assert await relay.relay_once() == 0


async def test_orders_younger_than_relay_after_are_left_alone(
    own_db: Database, own_channel: AbstractChannel, tap: AbstractQueue, metrics: Metrics
) -> None:
    old = await _commit_unpublished(own_db, 3, age_s=RELAY_AFTER_S + 1)
    # Young enough that their writer may still be publishing them: the relay must not race it.
    young = await _commit_unpublished(own_db, 3, age_s=0)

    assert await _relay(own_db, own_channel, metrics).relay_once() == 3

    assert sorted(await _published(tap)) == sorted(old)
    assert await _unstamped(own_db, old + young) == set(young)


@dataclass
class _HeldPublisher(ExecutePublisher):
    """The real publisher, held inside its publish (after the relay locked its batch) until released."""

    inside: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    async def publish(self, order_ids: Sequence[uuid.UUID]) -> None:
        self.inside.set()
        await self.release.wait()
        await super().publish(order_ids)


async def test_two_relays_at_once_publish_each_order_once(
    own_db: Database, own_channel: AbstractChannel, tap: AbstractQueue, metrics: Metrics
) -> None:
    ids = await _commit_unpublished(own_db, 25, age_s=RELAY_AFTER_S + 1)
    held = _HeldPublisher(own_db, own_channel, metrics)
    first = OutboxRelay(own_db, held, metrics, batch_size=10)
    second = _relay(own_db, own_channel, metrics, batch_size=10)

    first_pass = asyncio.create_task(first.relay_once())
    try:
        await asyncio.wait_for(held.inside.wait(), timeout=10)
        # The first holds its 10 rows locked, mid-publish; the second skips them instead of waiting for it.
        assert await asyncio.wait_for(second.relay_once(), timeout=5) == 10
    finally:
        held.release.set()
    assert await asyncio.wait_for(first_pass, timeout=10) == 10
    assert await asyncio.wait_for(second.relay_once(), timeout=10) == 5
    assert await first.relay_once() == 0

    published = Counter(await _published(tap))
    assert set(published) == set(ids)
    assert max(published.values()) == 1
    assert await _unstamped(own_db, ids) == set()
