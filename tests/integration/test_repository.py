"""The repositories against the real Postgres: compare-and-set steps, gap-free seqs, one execution."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
import pytest_asyncio
import sqlalchemy as sa
from psycopg import AsyncConnection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from orders_api.repository import list_orders
from orders_shared.contracts import OrderEvent
from orders_shared.db import Database
from orders_shared.errors import IllegalTransition
from orders_shared.models import orders_table, pools_table
from orders_shared.pools import PairState, ParsedPools, dump
from orders_shared.repository import fetch_order, read_events, read_pools
from orders_shared.status import Status
from orders_venues import Catalog, PairPools
from orders_venues.pools import default_pools
from orders_worker.repository import (
    Confirmation,
    Ledger,
    Locked,
    advance,
    confirm,
    find_execution,
    lock_orders,
)
from tests.support.locks import until_waiting
from tests.support.orders import new_order, to_submitted

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def _new_order(engine: AsyncEngine, client: str = "repo-tests") -> uuid.UUID:
    return await new_order(engine, client)


async def _route(pg: AsyncConnection[Any], order_id: uuid.UUID, **columns: Any) -> OrderEvent | None:
    """The step pending (seq 1) → routing, as a worker that saw the new order takes it."""
    return await advance(
        pg, order_id, expected=Status.PENDING, expected_seq=1, new=Status.ROUTING, detail={}, **columns
    )


async def test_new_order_is_pending_with_event_one(engine: AsyncEngine, db: Database) -> None:
    order_id = await _new_order(engine)
    async with db.connection() as conn:
        order = await fetch_order(conn, order_id)
        events = await read_events(conn, order_id)
    assert order is not None
    assert (order.status, order.last_seq, order.amount_in) == ("pending", 1, Decimal("1.25"))
    assert [(e.seq, e.status) for e in events] == [(1, Status.PENDING)]


async def test_advance_appends_the_next_seq_in_the_same_transaction(
    engine: AsyncEngine, db: Database
) -> None:
    order_id = await _new_order(engine)
    async with db.connection() as pg, pg.transaction():
        event = await _route(pg, order_id, attempt=1)
    assert event is not None
    assert (event.seq, event.status, event.attempt) == (2, Status.ROUTING, 1)
    async with db.connection() as conn:
        assert [e.seq for e in await read_events(conn, order_id)] == [1, 2]


async def test_advance_from_a_stale_view_changes_nothing(engine: AsyncEngine, db: Database) -> None:
    order_id = await _new_order(engine)
    async with db.connection() as pg:
        first = await _route(pg, order_id)
        # Another worker saw (pending, 1) too; it must lose.
        second = await _route(pg, order_id)
    assert first is not None
    assert second is None
    async with db.connection() as conn:
        assert [e.seq for e in await read_events(conn, order_id)] == [1, 2]


async def test_rollback_leaves_neither_status_nor_event(engine: AsyncEngine, db: Database) -> None:
    order_id = await _new_order(engine)

    class Boom(Exception):
        pass

    async def advance_then_crash() -> None:
        async with db.connection() as pg, pg.transaction():
            await _route(pg, order_id)
            raise Boom

    with pytest.raises(Boom):
        await advance_then_crash()
    async with db.connection() as conn:
        order = await fetch_order(conn, order_id)
        events = await read_events(conn, order_id)
    assert order is not None
    assert order.status == "pending"
    assert len(events) == 1


async def test_illegal_transition_is_refused_before_sql(engine: AsyncEngine, db: Database) -> None:
    order_id = await _new_order(engine)
    with pytest.raises(IllegalTransition):
        async with db.connection() as pg:
            await advance(
                pg, order_id, expected=Status.PENDING, expected_seq=1, new=Status.CONFIRMED, detail={}
            )


async def test_database_refuses_an_unknown_status(engine: AsyncEngine) -> None:
    order_id = await _new_order(engine)
    with pytest.raises(IntegrityError):
        async with engine.begin() as conn:
            await conn.execute(
                sa.update(orders_table).where(orders_table.c.id == order_id).values(status="lost")
            )


# Three different states of a pair's pools; only their identity matters here.
_POOLS = dict(zip(("first", "second", "after"), default_pools(now=0).values(), strict=False))


def _pool_state(pair: str) -> sa.Select[tuple[object]]:
    return sa.select(pools_table.c.state).where(pools_table.c.pair == pair)


async def _submitted_order(engine: AsyncEngine, db: Database) -> tuple[uuid.UUID, str]:
    """An order at (submitted, 4), and a pair of pools of its own."""
    order_id = await _new_order(engine)
    pair = f"TEST-{order_id.hex[:8]}"
    async with engine.begin() as conn:
        await conn.execute(sa.insert(pools_table).values(pair=pair, state={}, synced_at=0, origin=0))
    await to_submitted(db, order_id)
    return order_id, pair


async def _land(
    db: Database, order_id: uuid.UUID, pair: str, expected_seq: int, amount_out: str, pools: str
) -> tuple[dict[uuid.UUID, Locked], dict[uuid.UUID, OrderEvent]]:
    confirmation = Confirmation(
        order_id=order_id,
        expected_seq=expected_seq,
        signature=f"sig-{order_id}",
        amount_out=Decimal(amount_out),
        executed_price=Decimal(amount_out) / Decimal("1.25"),
        ledger=Ledger("raydium", Decimal("1.25"), slot=1),
    )
    async with db.connection() as pg, pg.transaction():
        held = await lock_orders(pg, [order_id])
        events = await confirm(pg, [confirmation], pair=pair, pools_after=_POOLS[pools], synced_at=1)
    return held, events


async def _landed(engine: AsyncEngine, db: Database, order_id: uuid.UUID, pair: str) -> tuple[Any, Any, Any]:
    async with db.connection() as pg:
        landed = await find_execution(pg, order_id)
        order = await fetch_order(pg, order_id)
    async with engine.connect() as conn:
        state = (await conn.execute(_pool_state(pair))).scalar()
        await conn.execute(sa.delete(pools_table).where(pools_table.c.pair == pair))
        await conn.commit()
    return landed, state, order


async def test_a_swap_lands_once_with_the_confirmation(engine: AsyncEngine, db: Database) -> None:
    order_id, pair = await _submitted_order(engine, db)
    held, first = await _land(db, order_id, pair, 4, "187.5", "first")
    # A second holder that also saw (submitted, 4) must not move the pools or write the ledger.
    held_later, second = await _land(db, order_id, pair, 4, "999", "second")
    landed, state, order = await _landed(engine, db, order_id, pair)
    assert held == {order_id: Locked(order_id, "submitted", 4)}
    assert held_later == {order_id: Locked(order_id, "confirmed", 5)}
    assert [(e.seq, e.status, e.amount_out, e.tx_hash) for e in first.values()] == [
        (5, Status.CONFIRMED, Decimal("187.5"), f"sig-{order_id}")
    ]
    assert second == {}
    assert landed == Decimal("187.5")
    assert state == dump(_POOLS["first"])
    assert order is not None
    assert (order.status, order.last_seq, order.amount_out) == ("confirmed", 5, Decimal("187.5"))


async def test_a_swap_whose_order_moved_on_writes_nothing(engine: AsyncEngine, db: Database) -> None:
    order_id, pair = await _submitted_order(engine, db)
    # The holder saw seq 3: the order has moved on since, so its swap must not land.
    _, events = await _land(db, order_id, pair, 3, "1", "after")
    landed, state, order = await _landed(engine, db, order_id, pair)
    assert events == {}
    assert landed is None
    assert state == {}
    assert order is not None
    assert (order.status, order.last_seq) == ("submitted", 4)


async def test_list_is_newest_first_per_client_and_pages_by_cursor(engine: AsyncEngine, db: Database) -> None:
    client = f"lister-{uuid.uuid4().hex[:6]}"
    ids = [await _new_order(engine, client) for _ in range(5)]
    await _new_order(engine, "someone-else")
    async with db.connection() as conn:
        first = await list_orders(conn, client=client, status=None, before=None, limit=3)
        rest = await list_orders(
            conn, client=client, status=None, before=(first[-1].created_at, first[-1].id), limit=3
        )
    seen = [r.id for r in first] + [r.id for r in rest]
    assert sorted(seen) == sorted(ids)
    assert len(seen) == 5
    stamps = [(r.created_at, r.id) for r in [*first, *rest]]
    assert stamps == sorted(stamps, reverse=True)


@pytest_asyncio.fixture(loop_scope="session")
async def own_pair(engine: AsyncEngine) -> AsyncIterator[str]:
    """A pair of this test's own in the pools table, at version 1 with the "first" pools; removed after."""
    pair = f"TEST-{uuid.uuid4().hex[:8]}"
    row = {"pair": pair, "state": dump(_POOLS["first"]), "synced_at": 0, "origin": 0, "version": 1}
    async with engine.begin() as conn:
        await conn.execute(sa.insert(pools_table).values(row))
    yield pair
    async with engine.begin() as conn:
        await conn.execute(sa.delete(pools_table).where(pools_table.c.pair == pair))


async def _read_while_another_task_puts(
    engine: AsyncEngine, db: Database, pair: str, parsed: ParsedPools, newer: tuple[int, PairPools]
) -> PairState:
    """read_pools under the row lock, with ``newer`` put into the cache (as another task of the worker
    would) while the read waits in Postgres for the row."""

    async def read_locked(pg: AsyncConnection[Any]) -> PairState:
        async with pg.transaction():
            return await read_pools(pg, pair, parsed, Catalog(), lock=True)

    async with db.connection() as pg, engine.connect() as blocker:
        await blocker.execute(
            sa.select(pools_table.c.pair).where(pools_table.c.pair == pair).with_for_update()
        )
        blocker_pid = (await blocker.execute(sa.text("SELECT pg_backend_pid()"))).scalar_one()
        reading = asyncio.create_task(read_locked(pg))
        await _until_blocked_by(engine, pg.info.backend_pid, blocker_pid)
        parsed.put(pair, *newer)
        await blocker.rollback()
        return await reading


async def _until_blocked_by(engine: AsyncEngine, waiter_pid: int, blocker_pid: int) -> None:
    await until_waiting(
        engine,
        "SELECT CAST(:blocker AS int) = ANY(pg_blocking_pids(:waiter))",
        "the read waits on the blocker's lock",
        {"blocker": blocker_pid, "waiter": waiter_pid},
    )


async def test_read_pools_uses_the_entry_it_asked_about_though_another_task_replaced_it(
    engine: AsyncEngine, db: Database, own_pair: str
) -> None:
    parsed = ParsedPools()
    cached = _POOLS["first"]
    parsed.put(own_pair, 1, cached)
    # The row is at the version the read sends, so Postgres leaves its state out: the read must use the
    # pools it had at that version, not whatever the cache holds when the answer arrives.
    state = await _read_while_another_task_puts(engine, db, own_pair, parsed, (2, _POOLS["second"]))
    assert state.version == 1
    assert state.pools is cached


async def test_read_pools_never_moves_the_cache_back(
    engine: AsyncEngine, db: Database, own_pair: str
) -> None:
    parsed = ParsedPools()
    parsed.put(own_pair, 0, _POOLS["after"])
    newer = (2, _POOLS["second"])
    # The read parses version 1; another task has cached version 2 meanwhile, which must stay.
    state = await _read_while_another_task_puts(engine, db, own_pair, parsed, newer)
    assert (state.version, state.pools) == (1, _POOLS["first"])
    assert parsed.by_pair[own_pair] == newer
