"""The worker's consumer on the real Postgres and RabbitMQ: every message it takes gets settled.

Each test gets a vhost of its own with the topology declared in it (retry delays long enough for a retry to
be read where it waits), a real `Consumer` wired as the worker wires it, and venues that always fail, so the
failure path runs every time. What is asserted is what the broker and Postgres hold afterwards.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import aio_pika
import pytest
import sqlalchemy as sa
from aio_pika.abc import AbstractIncomingMessage, AbstractRobustChannel, AbstractRobustConnection
from sqlalchemy.ext.asyncio import AsyncEngine
from structlog.testing import capture_logs
from structlog.typing import EventDict, WrappedLogger

from orders_shared.amqp import connect, publish
from orders_shared.contracts import Contract, ExecuteOrder, ExecuteOrders
from orders_shared.db import Database
from orders_shared.metrics import Metrics, create_metrics
from orders_shared.pools import ParsedPools
from orders_shared.repository import fetch_order
from orders_shared.repository import read_events as fetch_events
from orders_shared.topology import DEAD_KEY, DEAD_QUEUE, EXECUTE_KEY, EXECUTE_QUEUE, retry_queue
from orders_venues import Catalog
from orders_worker.app import build_consumer, venue_latency
from orders_worker.consumer import Consumer
from orders_worker.resources import Resources
from orders_worker.settings import WorkerSettings
from tests.support.infra import throwaway_vhost
from tests.support.locks import until_waiting
from tests.support.orders import new_order

pytestmark = pytest.mark.asyncio(loop_scope="session")

CLIENT = "consumer-tests"
WAIT_S = 15.0
# A retry waits this long in its delay queue: the test reads it there before it could come back.
RETRY_DELAY_MS = 600_000


@dataclass
class Worker:
    """A consumer as the worker builds it, on a connection of its own, and the test's own connection."""

    consumer: Consumer
    metrics: Metrics
    test_channel: AbstractRobustChannel

    def count(self, name: str, **labels: str) -> float:
        """A counter's value (0 when it was never incremented)."""
        return self.metrics.registry.get_sample_value(f"{name}_total", labels) or 0.0

    async def send(self, message: Contract, *, message_type: str | None = None) -> None:
        """Publish to `orders.execute` as the api (or the retry queues) would."""
        exchange = await self.test_channel.get_exchange("orders", ensure=False)
        if message_type is None:
            await publish(exchange, EXECUTE_KEY, message)
        else:
            await exchange.publish(
                aio_pika.Message(message.to_json(), type=message_type), routing_key=EXECUTE_KEY, timeout=10
            )

    async def next_on(self, queue_name: str) -> AbstractIncomingMessage:
        """The next message on ``queue_name``, acked; fails the test if none comes within WAIT_S."""
        queue = await self.test_channel.get_queue(queue_name, ensure=False)
        async with queue.iterator(timeout=WAIT_S) as messages:
            async for message in messages:
                await message.ack()
                return message
        raise AssertionError(f"nothing arrived on {queue_name}")

    async def stop_and_count_left(self, connection: AbstractRobustConnection) -> int:
        """Stop the consumer, close its connection, and count what `orders.execute` then holds.

        Closing the connection hands back whatever the consumer still held, so 0 means every message it
        took was acked, rejected or dead-lettered, none left unsettled.
        """
        await self.consumer.stop(grace_s=WAIT_S)
        await connection.close()
        queue = await self.test_channel.declare_queue(EXECUTE_QUEUE, passive=True)
        count = queue.declaration_result.message_count
        assert count is not None
        return count


@asynccontextmanager
async def running_worker(
    db: Database, database_url: str, *, max_attempts: int = 3, delivery_limit: int = 5
) -> AsyncIterator[tuple[Worker, AbstractRobustConnection]]:
    """A vhost of its own, the topology, and a consumer built and started as the worker's lifespan does,
    whose venues always fail."""
    with throwaway_vhost("orders-consumer") as amqp_url:
        settings = WorkerSettings(
            database_url=database_url,
            amqp_url=amqp_url,
            max_attempts=max_attempts,
            amqp_delivery_limit=delivery_limit,
            retry_base_delay_ms=RETRY_DELAY_MS,
            worker_concurrency=4,
            # Every quote fails at once: a retryable venue failure on each attempt.
            venue_quote_latency_ms="0",
            venue_execute_latency_ms="0",
            venue_failure_rate=1.0,
        )
        metrics = create_metrics()
        res = Resources(db, settings, venue_latency(settings), metrics, ParsedPools(), Catalog())
        connection = await connect(amqp_url, name="consumer-tests-worker")
        test_connection = await connect(amqp_url, name="consumer-tests")
        try:
            consumer = await build_consumer(res, connection)
            test_channel = await test_connection.channel()
            await consumer.start()
            try:
                yield Worker(consumer, metrics, test_channel), connection
            finally:
                await consumer.stop(grace_s=WAIT_S)
        finally:
            await connection.close()
            await test_connection.close()


@asynccontextmanager
async def refusing_updates(engine: AsyncEngine, order_id: uuid.UUID) -> AsyncIterator[None]:
    """A trigger that makes every UPDATE of this one order's row raise: its failure cannot be stored."""
    name = f"refuse_{uuid.uuid4().hex[:12]}"
    async with engine.begin() as conn:
        await conn.execute(
            sa.text(
                f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'this order refuses every update (test)'; END $$"
            )
        )
        await conn.execute(
            sa.text(
                f"CREATE TRIGGER {name} BEFORE UPDATE ON orders FOR EACH ROW "
                f"WHEN (OLD.id = '{order_id}') EXECUTE FUNCTION {name}()"
            )
        )
    try:
        yield
    finally:
        async with engine.begin() as conn:
            await conn.execute(sa.text(f"DROP TRIGGER {name} ON orders"))
            await conn.execute(sa.text(f"DROP FUNCTION {name}()"))


def _dead_lettered_by_broker(message: AbstractIncomingMessage) -> str | None:
    """Why RabbitMQ dead-lettered ``message`` (None for one the consumer published to `orders.dead`)."""
    deaths = message.headers.get("x-death")
    if not isinstance(deaths, list) or not deaths:
        return None
    first = deaths[0]
    assert isinstance(first, dict)
    return str(first["reason"])


async def test_retryable_failure_publishes_the_next_attempt_and_acks(
    engine: AsyncEngine, db: Database, database_url: str
) -> None:
    order_id = await new_order(engine, CLIENT)
    async with running_worker(db, database_url) as (worker, connection):
        await worker.send(ExecuteOrder(order_id=order_id, attempt=1))
        retry = await worker.next_on(retry_queue(1))
        assert ExecuteOrder.model_validate_json(retry.body) == ExecuteOrder(order_id=order_id, attempt=2)
        assert await worker.stop_and_count_left(connection) == 0
        assert worker.count("order_retries", reason="VENUE_UNAVAILABLE") == 1
    async with db.connection() as conn:
        order = await fetch_order(conn, order_id)
    assert order is not None
    assert order.status == "pending"  # a retry is not a failure


async def test_last_attempt_fails_the_order_and_dead_letters_it(
    engine: AsyncEngine, db: Database, database_url: str
) -> None:
    order_id = await new_order(engine, CLIENT)
    async with running_worker(db, database_url, max_attempts=3) as (worker, connection):
        await worker.send(ExecuteOrder(order_id=order_id, attempt=3))
        dead = await worker.next_on(DEAD_QUEUE)
        assert ExecuteOrder.model_validate_json(dead.body) == ExecuteOrder(order_id=order_id, attempt=3)
        assert _dead_lettered_by_broker(dead) is None  # published by the consumer, after storing the failure
        assert await worker.stop_and_count_left(connection) == 0
        assert worker.count("order_dead_letters") == 1
    async with db.connection() as conn:
        order = await fetch_order(conn, order_id)
        events = await fetch_events(conn, order_id)
    assert order is not None
    assert order.status == "failed"
    assert order.failure_reason == "no venue answered with a quote"
    assert [e.status for e in events] == ["pending", "failed"]


async def test_message_whose_failure_cannot_be_stored_is_requeued_not_held(
    engine: AsyncEngine, db: Database, database_url: str
) -> None:
    order_id = await new_order(engine, CLIENT)
    async with (
        refusing_updates(engine, order_id),
        running_worker(db, database_url, max_attempts=1, delivery_limit=1) as (worker, connection),
    ):
        with capture_logs() as logs:
            await worker.send(ExecuteOrder(order_id=order_id, attempt=1))
            # Each delivery fails to store the failure and is nacked back; the redeliveries end when the
            # queue's delivery limit dead-letters the message. A message held instead would never get there.
            dead = await worker.next_on(DEAD_QUEUE)
        assert ExecuteOrder.model_validate_json(dead.body) == ExecuteOrder(order_id=order_id, attempt=1)
        assert _dead_lettered_by_broker(dead) == "delivery_limit"
        assert await worker.stop_and_count_left(connection) == 0
        assert worker.count("order_redeliveries") >= 1
        assert worker.count("internal_errors", where="worker") >= 2
        assert worker.count("order_dead_letters") == 0  # the consumer never got as far as its own
    handling_failed = [entry for entry in logs if entry["event"] == "message_handling_failed"]
    assert len(handling_failed) >= 2
    assert all(entry["log_level"] == "error" and entry["exc_info"] for entry in handling_failed)
    assert not [entry for entry in logs if entry["event"] == "message_requeue_failed"]
    async with db.connection() as conn:
        order = await fetch_order(conn, order_id)
    assert order is not None
    assert order.status == "pending"


@asynccontextmanager
async def refusing_dead_letters(worker: Worker) -> AsyncIterator[None]:
    """A full queue bound to the dead letters' key that refuses what comes (reject-publish): the broker
    nacks every dead letter the consumer publishes, so its publish raises."""
    exchange = await worker.test_channel.get_exchange("orders", ensure=False)
    refusing = await worker.test_channel.declare_queue(
        f"refuse-dead-{uuid.uuid4().hex[:8]}",
        arguments={"x-queue-type": "classic", "x-max-length": 0, "x-overflow": "reject-publish"},
    )
    await refusing.bind(exchange, DEAD_KEY)
    try:
        yield
    finally:
        await refusing.delete(if_unused=False, if_empty=False)


async def test_message_whose_dead_letter_cannot_be_published_is_still_settled(
    engine: AsyncEngine, db: Database, database_url: str
) -> None:
    order_id = await new_order(engine, CLIENT)
    stale = asyncio.Event()

    def on_stale(_: WrappedLogger, __: str, entry: EventDict) -> EventDict:
        if entry["event"] == "message_stale":
            stale.set()
        return entry

    async with running_worker(db, database_url, max_attempts=1) as (worker, connection):
        async with refusing_dead_letters(worker):
            with capture_logs(processors=[on_stale]) as logs:
                await worker.send(ExecuteOrder(order_id=order_id, attempt=1))
                # The failure is stored, its dead letter refused: the message goes back (nacked), and its
                # redelivery finds the order failed and is acked as stale. Nothing is left held or queued.
                await asyncio.wait_for(stale.wait(), timeout=WAIT_S)
                assert await worker.stop_and_count_left(connection) == 0
        assert worker.count("internal_errors", where="worker") == 1  # the handling: the venues' is theirs
        assert worker.count("order_redeliveries") == 1
        assert worker.count("order_dead_letters") == 0  # none was published
    events = [entry["event"] for entry in logs]
    assert events.index("order_failed") < events.index("message_handling_failed")
    assert events.index("message_handling_failed") < events.index("message_stale")
    assert not [entry for entry in logs if entry["event"] == "message_requeue_failed"]
    async with db.connection() as conn:
        order = await fetch_order(conn, order_id)
    assert order is not None
    assert (order.status, order.failure_reason) == ("failed", "no venue answered with a quote")


async def test_malformed_message_is_rejected_to_the_dead_letter_queue(
    db: Database, database_url: str
) -> None:
    async with running_worker(db, database_url) as (worker, connection):
        exchange = await worker.test_channel.get_exchange("orders", ensure=False)
        await exchange.publish(aio_pika.Message(b'{"orderId": "not-a-uuid"}'), routing_key=EXECUTE_KEY)
        dead = await worker.next_on(DEAD_QUEUE)
        assert dead.body == b'{"orderId": "not-a-uuid"}'
        assert _dead_lettered_by_broker(dead) == "rejected"
        assert await worker.stop_and_count_left(connection) == 0
        assert worker.count("order_dead_letters") == 1
        assert worker.count("order_redeliveries") == 0  # rejected once, not requeued


async def test_batch_is_settled_only_when_every_order_of_it_is(
    engine: AsyncEngine, db: Database, database_url: str
) -> None:
    refused, slow = await new_order(engine, CLIENT), await new_order(engine, CLIENT)
    async with (
        refusing_updates(engine, refused),
        running_worker(db, database_url, max_attempts=1, delivery_limit=1) as (worker, connection),
        engine.connect() as locker,
    ):
        # Hold the slow order's row: its failure waits for this transaction, while the refused one's fails.
        await locker.begin()
        await locker.execute(sa.text("SELECT 1 FROM orders WHERE id = :id FOR UPDATE"), {"id": slow})
        me = (await locker.execute(sa.text("SELECT pg_backend_pid()"))).scalar_one()

        with capture_logs() as logs:
            await worker.send(
                ExecuteOrders(order_ids=[refused, slow]), message_type=ExecuteOrders.MESSAGE_TYPE
            )
            await until_waiting(
                engine,
                "SELECT count(*) FROM pg_stat_activity WHERE :me = ANY(pg_blocking_pids(pid))",
                "the slow order's failure waits on its row",
                {"me": me},
                within=WAIT_S,
            )
            # One order of the batch is still running: the message must not have been handed back yet.
            assert worker.count("order_redeliveries") == 0
            await locker.rollback()
            arrived = [await worker.next_on(DEAD_QUEUE), await worker.next_on(DEAD_QUEUE)]
            assert await worker.stop_and_count_left(connection) == 0
        events = [entry["event"] for entry in logs]
        assert events.index("order_failed") < events.index("message_handling_failed")
    by_broker = {_dead_lettered_by_broker(m): m for m in arrived}
    assert set(by_broker) == {None, "delivery_limit"}
    assert ExecuteOrder.model_validate_json(by_broker[None].body) == ExecuteOrder(order_id=slow, attempt=1)
    assert ExecuteOrders.model_validate_json(by_broker["delivery_limit"].body).order_ids == [refused, slow]
    async with db.connection() as conn:
        slow_order, refused_order = await fetch_order(conn, slow), await fetch_order(conn, refused)
    assert slow_order is not None
    assert refused_order is not None
    assert (slow_order.status, refused_order.status) == ("failed", "pending")
