"""A fired limit order whose swap no longer pays its price when it lands goes back to `open`, on the real
Postgres and RabbitMQ: submitted -> open by compare-and-set, with the price it missed, no trade, and it can
fire again (or expire) from there."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
import pytest_asyncio
from aio_pika.abc import AbstractChannel

from orders_shared.contracts import ExecuteOrder
from orders_shared.db import Database
from orders_shared.metrics import create_metrics
from orders_shared.pools import ParsedPools
from orders_shared.repository import fetch_order, leave_open, read_events, seed_pools
from orders_shared.status import Status
from orders_venues import Catalog
from orders_worker.app import venue_latency
from orders_worker.doorbell import Doorbell
from orders_worker.pipeline import Pipeline
from orders_worker.repository import expire_due, find_execution
from orders_worker.resources import Resources
from orders_worker.settings import WorkerSettings
from tests.support.orders import open_limit_order

pytestmark = pytest.mark.asyncio(loop_scope="session")

# A SOL price no pool pays: the swap, once fired, misses it.
ABOVE_THE_MARKET = "1000000"


@pytest_asyncio.fixture(loop_scope="session", scope="module")
async def pipeline(
    own_db: Database, own_database_url: str, own_channel: AbstractChannel
) -> AsyncIterator[Pipeline]:
    """The worker's pipeline on the module's database, with instant venues."""
    async with own_db.connection() as conn:
        await seed_pools(conn)
    settings = WorkerSettings(
        database_url=own_database_url,
        amqp_url="amqp://unused/",
        venue_quote_latency_ms="0",
        venue_execute_latency_ms="0",
    )
    res = Resources(own_db, settings, venue_latency(settings), create_metrics(), ParsedPools(), Catalog())
    yield Pipeline(res, Doorbell(own_channel))


async def _fired(db: Database) -> uuid.UUID:
    """An open limit order above the market, fired as the trigger fires it (open -> routing, seq 3)."""
    order_id = await open_limit_order(db, "limit-reopen-tests", ABOVE_THE_MARKET)
    async with db.connection() as conn:
        assert await leave_open(conn, order_id, Status.ROUTING, attempt=1) is not None
    return order_id


async def test_a_fired_limit_order_that_misses_its_price_goes_back_to_open(
    pipeline: Pipeline, own_db: Database
) -> None:
    order_id = await _fired(own_db)
    await pipeline.run(ExecuteOrder(order_id=order_id, attempt=1, seen_seq=3), redelivered=False)
    async with own_db.connection() as conn:
        row = await fetch_order(conn, order_id)
        events = await read_events(conn, order_id)
        landed = await find_execution(conn, order_id)
    assert row is not None
    assert (row.status, row.last_seq, row.failure_code) == ("open", 7, None)
    assert (row.route, row.tx_hash) == (None, None)
    assert landed is None  # nothing traded
    assert [(e.seq, e.status) for e in events] == [
        (1, Status.PENDING),
        (2, Status.OPEN),
        (3, Status.ROUTING),
        (4, Status.ROUTING),
        (5, Status.BUILDING),
        (6, Status.SUBMITTED),
        (7, Status.OPEN),
    ]
    reopened = events[-1]
    assert reopened.limit_price == Decimal(ABOVE_THE_MARKET)
    assert reopened.missed_price is not None
    assert 0 < reopened.missed_price < Decimal(ABOVE_THE_MARKET)
    assert reopened.frame()["missedPrice"] == str(reopened.missed_price)


async def test_a_reopened_order_fires_again_or_expires_and_its_old_message_is_stale(
    pipeline: Pipeline, own_db: Database
) -> None:
    order_id = await _fired(own_db)
    first = ExecuteOrder(order_id=order_id, attempt=1, seen_seq=3)
    await pipeline.run(first, redelivered=False)
    # The first fire's message again (a redelivery): the order moved on, nothing happens.
    await pipeline.run(first, redelivered=True)
    async with own_db.connection() as conn:
        row = await fetch_order(conn, order_id)
        assert row is not None
        assert (row.status, row.last_seq) == ("open", 7)
        # It waits again: a fire and an expiry both leave `open` by compare-and-set, and exactly one wins.
        fired = await leave_open(conn, order_id, Status.ROUTING, attempt=1)
        assert fired is not None
        assert fired.seq == 8
        assert await leave_open(conn, order_id, Status.EXPIRED) is None


async def test_a_reopened_order_past_its_time_expires(pipeline: Pipeline, own_db: Database) -> None:
    order_id = await _fired(own_db)
    await pipeline.run(ExecuteOrder(order_id=order_id, attempt=1, seen_seq=3), redelivered=False)
    async with own_db.connection() as conn:
        await conn.execute(
            "UPDATE orders SET expires_at = now() - interval '1 second' WHERE id = %s", [order_id]
        )
        expired = {e.order_id: e for e in await expire_due(conn, ["SOL", "USDC"], limit=1000)}
    assert expired[order_id].seq == 8
    assert expired[order_id].status is Status.EXPIRED
