"""The repositories against the real Postgres: compare-and-set steps, gap-free seqs, one execution."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from orders_api.repository import insert_order, list_orders
from orders_shared.errors import IllegalTransition
from orders_shared.models import orders_table
from orders_shared.pools import dump, pools_table
from orders_shared.queries import fetch_events, fetch_order
from orders_shared.status import Status
from orders_venues.pools import default_pools
from orders_worker.repository import Swap, advance, find_execution

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def _new_order(engine: AsyncEngine, client: str = "repo-tests") -> uuid.UUID:
    order_id = uuid.uuid4()
    async with engine.begin() as conn:
        await insert_order(
            conn,
            order_id=order_id,
            client=client,
            token_in="SOL",
            token_out="USDC",
            amount_in=Decimal("1.25"),
            slippage_bps=50,
        )
    return order_id


async def test_new_order_is_pending_with_event_one(engine: AsyncEngine) -> None:
    order_id = await _new_order(engine)
    async with engine.connect() as conn:
        order = await fetch_order(conn, order_id)
        events = await fetch_events(conn, order_id)
    assert order is not None
    assert (order.status, order.last_seq, order.amount_in) == ("pending", 1, Decimal("1.25"))
    assert [(e.seq, e.status) for e in events] == [(1, Status.PENDING)]


async def test_advance_appends_the_next_seq_in_the_same_transaction(engine: AsyncEngine) -> None:
    order_id = await _new_order(engine)
    async with engine.begin() as conn:
        event = await advance(
            conn, order_id, expected=Status.PENDING, expected_seq=1, new=Status.ROUTING, detail={}, attempt=1
        )
    assert event is not None
    assert (event.seq, event.status, event.attempt) == (2, Status.ROUTING, 1)
    async with engine.connect() as conn:
        assert [e.seq for e in await fetch_events(conn, order_id)] == [1, 2]


async def test_advance_from_a_stale_view_changes_nothing(engine: AsyncEngine) -> None:
    order_id = await _new_order(engine)
    async with engine.begin() as conn:
        first = await advance(
            conn, order_id, expected=Status.PENDING, expected_seq=1, new=Status.ROUTING, detail={}
        )
    async with engine.begin() as conn:
        # Another worker saw (pending, 1) too; it must lose.
        second = await advance(
            conn, order_id, expected=Status.PENDING, expected_seq=1, new=Status.ROUTING, detail={}
        )
    assert first is not None
    assert second is None
    async with engine.connect() as conn:
        assert [e.seq for e in await fetch_events(conn, order_id)] == [1, 2]


async def test_rollback_leaves_neither_status_nor_event(engine: AsyncEngine) -> None:
    order_id = await _new_order(engine)

    class Boom(Exception):
        pass

    async def advance_then_crash() -> None:
        async with engine.begin() as conn:
            await advance(
                conn, order_id, expected=Status.PENDING, expected_seq=1, new=Status.ROUTING, detail={}
            )
            raise Boom

    with pytest.raises(Boom):
        await advance_then_crash()
    async with engine.connect() as conn:
        order = await fetch_order(conn, order_id)
        events = await fetch_events(conn, order_id)
    assert order is not None
    assert order.status == "pending"
    assert len(events) == 1


async def test_illegal_transition_is_refused_before_sql(engine: AsyncEngine) -> None:
    order_id = await _new_order(engine)
    with pytest.raises(IllegalTransition):
        async with engine.begin() as conn:
            await advance(
                conn, order_id, expected=Status.PENDING, expected_seq=1, new=Status.CONFIRMED, detail={}
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


async def test_a_swap_lands_once_with_the_step_that_confirms_it(engine: AsyncEngine) -> None:
    order_id = await _new_order(engine)
    pair = f"TEST-{order_id.hex[:8]}"
    async with engine.begin() as conn:
        await conn.execute(
            sa.insert(pools_table).values(pair=pair, state={"v": "before"}, synced_at=0, origin=0)
        )
        for seq, status in enumerate((Status.ROUTING, Status.BUILDING, Status.SUBMITTED), start=1):
            previous = Status.PENDING if seq == 1 else (Status.ROUTING, Status.BUILDING)[seq - 2]
            assert await advance(conn, order_id, expected=previous, expected_seq=seq, new=status, detail={})

    async def land(amount_out: Decimal, after: str) -> bool:
        # Two holders saw (submitted, 4): only the first may move the pools and write the ledger.
        swap = Swap(
            pair=pair,
            pools_after=_POOLS[after],
            synced_at=1,
            signature=f"sig-{order_id}",
            venue="raydium",
            amount_in=Decimal("1.25"),
            amount_out=amount_out,
            slot=1,
        )
        async with engine.begin() as conn:
            event = await advance(
                conn,
                order_id,
                expected=Status.SUBMITTED,
                expected_seq=4,
                new=Status.CONFIRMED,
                detail={"amountOut": amount_out},
                swap=swap,
                amount_out=amount_out,
            )
        return event is not None

    assert await land(Decimal("187.5"), "first")
    assert not await land(Decimal("999"), "second")
    async with engine.connect() as conn:
        landed = await find_execution(conn, order_id)
        state = (
            await conn.execute(sa.select(pools_table.c.state).where(pools_table.c.pair == pair))
        ).scalar()
        order = await fetch_order(conn, order_id)
        await conn.execute(sa.delete(pools_table).where(pools_table.c.pair == pair))
        await conn.commit()
    assert landed == Decimal("187.5")
    assert state == dump(_POOLS["first"])
    assert order is not None
    assert (order.status, order.last_seq, order.amount_out) == ("confirmed", 5, Decimal("187.5"))


async def test_a_swap_whose_order_moved_on_writes_nothing(engine: AsyncEngine) -> None:
    order_id = await _new_order(engine)
    pair = f"TEST-{order_id.hex[:8]}"
    async with engine.begin() as conn:
        await conn.execute(
            sa.insert(pools_table).values(pair=pair, state={"v": "before"}, synced_at=0, origin=0)
        )
    swap = Swap(
        pair=pair,
        pools_after=_POOLS["after"],
        synced_at=1,
        signature=f"sig-{order_id}",
        venue="raydium",
        amount_in=Decimal("1.25"),
        amount_out=Decimal("1"),
        slot=1,
    )
    async with engine.begin() as conn:
        # The order is pending, not submitted: the compare-and-set fails, so the swap must not land.
        event = await advance(
            conn,
            order_id,
            expected=Status.SUBMITTED,
            expected_seq=1,
            new=Status.CONFIRMED,
            detail={},
            swap=swap,
        )
    async with engine.connect() as conn:
        landed = await find_execution(conn, order_id)
        state = (
            await conn.execute(sa.select(pools_table.c.state).where(pools_table.c.pair == pair))
        ).scalar()
        await conn.execute(sa.delete(pools_table).where(pools_table.c.pair == pair))
        await conn.commit()
    assert event is None
    assert landed is None
    assert state == {"v": "before"}


async def test_list_is_newest_first_per_client_and_pages_by_cursor(engine: AsyncEngine) -> None:
    client = f"lister-{uuid.uuid4().hex[:6]}"
    ids = [await _new_order(engine, client) for _ in range(5)]
    await _new_order(engine, "someone-else")
    async with engine.connect() as conn:
        first = await list_orders(conn, client=client, status=None, before=None, limit=3)
        rest = await list_orders(
            conn, client=client, status=None, before=(first[-1].created_at, first[-1].id), limit=3
        )
    seen = [r.id for r in first] + [r.id for r in rest]
    assert sorted(seen) == sorted(ids)
    assert len(seen) == 5
    stamps = [(r.created_at, r.id) for r in [*first, *rest]]
    assert stamps == sorted(stamps, reverse=True)
