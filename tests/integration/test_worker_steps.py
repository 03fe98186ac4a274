"""The worker's multi-step write on the real Postgres: routing, building and submitted in one statement."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from orders_shared.db import Database
from orders_shared.errors import IllegalTransition
from orders_shared.repository import fetch_order
from orders_shared.repository import read_events as fetch_events
from orders_shared.status import Status
from orders_worker.repository import advance_through
from tests.support.orders import new_order

pytestmark = pytest.mark.asyncio(loop_scope="session")


_TO_SUBMITTED: list[tuple[Status, dict[str, Any]]] = [
    (Status.ROUTING, {}),
    (Status.BUILDING, {"dexChosen": "raydium"}),
    (Status.SUBMITTED, {"txHash": "sig"}),
]


async def test_three_steps_append_three_gap_free_events_in_one_statement(
    engine: AsyncEngine, db: Database
) -> None:
    order_id = await new_order(engine, "steps-tests")
    async with db.connection() as pg:
        events = await advance_through(
            pg,
            order_id,
            expected=Status.PENDING,
            expected_seq=1,
            steps=_TO_SUBMITTED,
            attempt=1,
            tx_hash="sig",
        )
    assert events is not None
    assert [(e.seq, e.status, e.attempt) for e in events] == [
        (2, Status.ROUTING, 1),
        (3, Status.BUILDING, 1),
        (4, Status.SUBMITTED, 1),
    ]
    async with db.connection() as conn:
        order = await fetch_order(conn, order_id)
        stored = await fetch_events(conn, order_id)
    assert order is not None
    assert (order.status, order.last_seq, order.tx_hash) == ("submitted", 4, "sig")
    # What was returned (and is published) is exactly what was stored, seq for seq.
    assert [e.frame() for e in stored[1:]] == [e.frame() for e in events]
    assert [e.seq for e in stored] == [1, 2, 3, 4]


async def test_steps_from_a_stale_view_write_nothing(engine: AsyncEngine, db: Database) -> None:
    order_id = await new_order(engine, "steps-tests")
    async with db.connection() as pg:
        first = await advance_through(
            pg, order_id, expected=Status.PENDING, expected_seq=1, steps=_TO_SUBMITTED
        )
        # Another worker saw (pending, 1) too; it must lose, writing none of its three events.
        second = await advance_through(
            pg, order_id, expected=Status.PENDING, expected_seq=1, steps=_TO_SUBMITTED
        )
    assert first is not None
    assert second is None
    async with db.connection() as conn:
        assert [e.seq for e in await fetch_events(conn, order_id)] == [1, 2, 3, 4]


async def test_a_step_outside_the_table_is_refused_before_sql(engine: AsyncEngine, db: Database) -> None:
    order_id = await new_order(engine, "steps-tests")
    with pytest.raises(IllegalTransition):
        async with db.connection() as pg:
            # pending → routing is legal, routing → submitted skips building: the whole write is refused.
            await advance_through(
                pg,
                order_id,
                expected=Status.PENDING,
                expected_seq=1,
                steps=[(Status.ROUTING, {}), (Status.SUBMITTED, {"txHash": "sig"})],
            )
    async with db.connection() as conn:
        order = await fetch_order(conn, order_id)
        assert [e.seq for e in await fetch_events(conn, order_id)] == [1]
    assert order is not None
    assert order.status == "pending"
