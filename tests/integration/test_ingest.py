"""Group commit against the real Postgres: concurrent orders share a transaction, one bad row fails alone."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import datetime

import pytest
import pytest_asyncio
from psycopg import IntegrityError

from orders_api.ingest import OrderWriter
from orders_shared.db import Database
from orders_shared.errors import Unavailable
from orders_shared.metrics import create_metrics
from tests.support.orders import market_order

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest_asyncio.fixture(loop_scope="session")
async def writer(db: Database) -> AsyncIterator[OrderWriter]:
    writer = OrderWriter(db, create_metrics(), max_batch=64, flushers=1)
    task = asyncio.create_task(writer.run())
    yield writer
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def _stored(db: Database, client: str) -> tuple[set[uuid.UUID], set[uuid.UUID]]:
    async with db.connection() as conn:
        orders = await conn.execute("SELECT id FROM orders WHERE client = %s", (client,))
        ids = {row[0] for row in await orders.fetchall()}
        events = await conn.execute(
            "SELECT order_id FROM order_events WHERE order_id = ANY(%s) AND seq = 1 AND status = 'pending'",
            (list(ids),),
        )
        return ids, {row[0] for row in await events.fetchall()}


async def test_concurrent_orders_are_stored_with_their_first_event(db: Database, writer: OrderWriter) -> None:
    client = f"ingest-{uuid.uuid4().hex[:6]}"
    orders = [market_order(client) for _ in range(50)]
    created = await asyncio.gather(*(writer.write(o) for o in orders))
    ids, with_event = await _stored(db, client)
    assert created == [True] * 50
    assert ids == with_event == {o.order_id for o in orders}
    # Submission order is kept: created_at never goes back in the order the requests came.
    async with db.connection() as conn:
        rows = await conn.execute("SELECT id, created_at FROM orders WHERE client = %s", (client,))
        created_at: dict[uuid.UUID, datetime] = {row[0]: row[1] for row in await rows.fetchall()}
    stamps = [created_at[o.order_id] for o in orders]
    assert stamps == sorted(stamps)


async def test_a_bad_row_fails_alone_and_a_repeated_key_is_not_stored_twice(
    db: Database, writer: OrderWriter
) -> None:
    client = f"ingest-{uuid.uuid4().hex[:6]}"
    good = [market_order(client), market_order(client)]
    # amount_in must be positive (a CHECK the api's validation makes unreachable): it fails its batch.
    bad = market_order(client, amount="0")
    first, again = market_order(client, key="k-1"), market_order(client, key="k-1")
    results = await asyncio.gather(
        *(writer.write(o) for o in (good[0], bad, first, again, good[1])), return_exceptions=True
    )
    ids, with_event = await _stored(db, client)
    assert results[0] is True
    assert results[4] is True
    assert isinstance(results[1], IntegrityError)
    # Two orders with one key in one batch: the first one is stored, the other is refused (False).
    assert (results[2], results[3]) == (True, False)
    assert ids == with_event == {good[0].order_id, good[1].order_id, first.order_id}


async def test_a_batch_on_a_lost_connection_fails_as_unavailable_and_the_next_is_stored(
    database_url: str, db: Database
) -> None:
    async with Database(database_url, size=1, application_name="ingest-lost") as lost:
        writer = OrderWriter(lost, create_metrics(), max_batch=8, flushers=1)
        task = asyncio.create_task(writer.run())
        try:
            # As when Postgres restarts: the writer's pooled connection is dead before its next INSERT.
            async with db.connection() as conn:
                await conn.execute(
                    "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity"
                    " WHERE application_name = 'ingest-lost'"
                )
            with pytest.raises(Unavailable, match="unreachable"):
                await writer.write(market_order("ingest-lost"))
            # The pool replaced its dead connection: the next order is stored, nobody restarted anything.
            assert await asyncio.wait_for(writer.write(market_order("ingest-lost")), timeout=10) is True
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
