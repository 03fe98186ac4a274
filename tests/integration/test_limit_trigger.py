"""The limit-order statements on the real Postgres: leaving `open` by compare-and-set (a cancel racing a
fire: exactly one wins), expiry, the index's look-up by price, and the evaluator's lease."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal

import pytest
import pytest_asyncio
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from orders_shared.db import Database
from orders_shared.models import orders_table
from orders_shared.repository import fetch_order, leave_open, read_events
from orders_shared.status import Status
from orders_worker.repository import expire_due, try_lease, waiting_within
from tests.support.locks import until_waiting
from tests.support.orders import open_limit_order

pytestmark = pytest.mark.asyncio(loop_scope="session")

CLIENT = "limit-trigger-tests"
# A SOL price no pool pays: a worker of a later test's stack never fires these orders.
NEVER = "1000000"


@pytest_asyncio.fixture(loop_scope="session", scope="module", autouse=True)
async def _remove_the_orders(engine: AsyncEngine) -> AsyncIterator[None]:
    """This module's orders go with it (their events cascade): no later stack's sweeper picks them up."""
    yield
    async with engine.begin() as conn:
        await conn.execute(sa.delete(orders_table).where(orders_table.c.client == CLIENT))


async def _open_order(
    db: Database, price: str = NEVER, expires_in: timedelta = timedelta(hours=1)
) -> uuid.UUID:
    return await open_limit_order(db, CLIENT, price, expires_in)


async def test_a_limit_order_is_stored_pending_then_open(db: Database) -> None:
    order_id = await _open_order(db)
    async with db.connection() as conn:
        row = await fetch_order(conn, order_id)
        events = await read_events(conn, order_id)
    assert row is not None
    assert (row.status, row.type, row.last_seq, row.limit_price) == ("open", "limit", 2, Decimal(NEVER))
    assert row.enqueued_at is not None  # the outbox relay never publishes it
    assert [(e.seq, e.status) for e in events] == [(1, Status.PENDING), (2, Status.OPEN)]


async def _one_race(db: Database) -> Status:
    order_id = await _open_order(db)

    async def leave(new: Status) -> bool:
        async with db.connection() as conn:
            return await leave_open(conn, order_id, new, attempt=1) is not None

    fired, cancelled = await asyncio.gather(leave(Status.ROUTING), leave(Status.CANCELLED))
    assert fired != cancelled
    async with db.connection() as conn:
        events = await read_events(conn, order_id)
    winner = Status.ROUTING if fired else Status.CANCELLED
    assert [(e.seq, e.status) for e in events] == [(1, Status.PENDING), (2, Status.OPEN), (3, winner)]
    return winner


async def test_a_cancel_racing_a_fire_ends_in_exactly_one_of_them(db: Database) -> None:
    winners = [await _one_race(db) for _ in range(20)]
    assert set(winners) <= {Status.ROUTING, Status.CANCELLED}


async def test_only_an_open_order_leaves_open(db: Database) -> None:
    order_id = await _open_order(db)
    async with db.connection() as conn:
        assert await leave_open(conn, order_id, Status.CANCELLED) is not None
        assert await leave_open(conn, order_id, Status.CANCELLED) is None
        assert await leave_open(conn, order_id, Status.ROUTING) is None


async def test_expiry_takes_the_orders_past_their_time_once(db: Database) -> None:
    due = await _open_order(db, expires_in=timedelta(seconds=-1))
    later = await _open_order(db)
    async with db.connection() as conn:
        first = {e.order_id: e for e in await expire_due(conn, ["SOL", "USDC"], limit=10_000)}
        again = {e.order_id for e in await expire_due(conn, ["SOL", "USDC"], limit=10_000)}
        row = await fetch_order(conn, later)
    assert first[due].status is Status.EXPIRED
    assert first[due].seq == 3
    assert later not in first
    assert due not in again
    assert row is not None
    assert row.status == "open"


async def test_the_look_up_returns_only_the_prices_within_reach_cheapest_first(db: Database) -> None:
    # Prices no other test uses, so the orders found are these.
    low, mid, high = [await _open_order(db, price) for price in ("2000123", "2000456", "2000789")]
    async with db.connection() as conn:
        found = await waiting_within(conn, "SOL", "USDC", Decimal("2000500"), limit=10_000)
        other_way = await waiting_within(conn, "USDC", "SOL", Decimal("2000500"), limit=10_000)
    ours = [w.id for w in found if w.id in {low, mid, high}]
    assert ours == [low, mid]
    assert not {low, mid, high} & {w.id for w in other_way}


async def test_one_session_holds_a_pairs_lease_until_its_connection_closes(
    db: Database, engine: AsyncEngine
) -> None:
    key = f"test-lease:{uuid.uuid4()}"
    holder, other = await db.dedicated("lease-a"), await db.dedicated("lease-b")
    try:
        assert await try_lease(holder, key)
        assert not await try_lease(other, key)
        backend = holder.info.backend_pid
        await holder.close()
        # The lock frees when the holder's backend has exited, a moment after its client closed.
        await until_waiting(
            engine,
            "SELECT NOT EXISTS (SELECT FROM pg_stat_activity WHERE pid = :pid)",
            "the lease holder's backend to exit",
            {"pid": backend},
        )
        assert await try_lease(other, key)
    finally:
        await holder.close()
        await other.close()
