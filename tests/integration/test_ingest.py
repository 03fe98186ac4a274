"""Group commit against the real Postgres: concurrent orders share a transaction, one bad row fails alone."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import datetime

import pytest
import pytest_asyncio
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from orders_api.ingest import OrderWriter
from orders_shared.db import create_engine
from orders_shared.errors import Unavailable
from orders_shared.metrics import create_metrics
from orders_shared.models import events_table, orders_table
from tests.support.orders import market_order

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest_asyncio.fixture(loop_scope="session")
async def writer(engine: AsyncEngine) -> AsyncIterator[OrderWriter]:
    writer = OrderWriter(engine, create_metrics(), max_batch=64, flushers=1)
    task = asyncio.create_task(writer.run())
    yield writer
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def _stored(engine: AsyncEngine, client: str) -> tuple[set[uuid.UUID], set[uuid.UUID]]:
    async with engine.connect() as conn:
        orders = await conn.execute(sa.select(orders_table.c.id).where(orders_table.c.client == client))
        ids = set(orders.scalars())
        events = await conn.execute(
            sa.select(events_table.c.order_id).where(
                events_table.c.order_id.in_(ids), events_table.c.seq == 1, events_table.c.status == "pending"
            )
        )
        return ids, set(events.scalars())


async def test_concurrent_orders_are_stored_with_their_first_event(
    engine: AsyncEngine, writer: OrderWriter
) -> None:
    client = f"ingest-{uuid.uuid4().hex[:6]}"
    orders = [market_order(client) for _ in range(50)]
    created = await asyncio.gather(*(writer.write(o) for o in orders))
    ids, with_event = await _stored(engine, client)
    assert created == [True] * 50
    assert ids == with_event == {o.order_id for o in orders}
    # Submission order is kept: created_at never goes back in the order the requests came.
    async with engine.connect() as conn:
        rows = await conn.execute(
            sa.select(orders_table.c.id, orders_table.c.created_at).where(orders_table.c.client == client)
        )
        created_at: dict[uuid.UUID, datetime] = dict(rows.all())
    stamps = [created_at[o.order_id] for o in orders]
    assert stamps == sorted(stamps)


async def test_a_bad_row_fails_alone_and_a_repeated_key_is_not_stored_twice(
    engine: AsyncEngine, writer: OrderWriter
) -> None:
    client = f"ingest-{uuid.uuid4().hex[:6]}"
    good = [market_order(client), market_order(client)]
    # amount_in must be positive (a CHECK the api's validation makes unreachable): it fails its batch.
    bad = market_order(client, amount="0")
    first, again = market_order(client, key="k-1"), market_order(client, key="k-1")
    results = await asyncio.gather(
        *(writer.write(o) for o in (good[0], bad, first, again, good[1])), return_exceptions=True
    )
    ids, with_event = await _stored(engine, client)
    assert results[0] is True
    assert results[4] is True
    assert isinstance(results[1], IntegrityError)
    # Two orders with one key in one batch: the first one is stored, the other is refused (False).
    assert (results[2], results[3]) == (True, False)
    assert ids == with_event == {good[0].order_id, good[1].order_id, first.order_id}


async def test_postgres_away_fails_the_batch_as_unavailable() -> None:
    # Nothing listens on port 1: every connection is refused, as when Postgres is down.
    engine = create_engine("postgresql://postgres@127.0.0.1:1/orders", pool_size=1, application_name="ingest")
    writer = OrderWriter(engine, create_metrics(), max_batch=8, flushers=1)
    task = asyncio.create_task(writer.run())
    try:
        with pytest.raises(Unavailable, match="unreachable"):
            await writer.write(market_order("ingest-away"))
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await engine.dispose()
