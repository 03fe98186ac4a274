"""Swaps queued on a pair land together, each exactly once, on the pools as the swap before left them."""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
import pytest_asyncio
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from orders_shared.contracts import OrderEvent
from orders_shared.db import Database
from orders_shared.decision import Decision, decide
from orders_shared.errors import SlippageExceeded
from orders_shared.metrics import create_metrics
from orders_shared.models import executions_table, orders_table, pools_table
from orders_shared.pools import ParsedPools, dump
from orders_shared.status import Status
from orders_venues import Catalog, PairPools, Side
from orders_venues.pools import default_pools
from orders_venues.tokens import Token, find_token
from orders_worker.app import venue_latency
from orders_worker.landing import Lander, Landing
from orders_worker.resources import Resources
from orders_worker.settings import WorkerSettings
from tests.support.locks import until_waiting
from tests.support.orders import new_order, to_submitted

pytestmark = pytest.mark.asyncio(loop_scope="session")


def _token(symbol: str) -> Token:
    token = find_token(symbol)
    assert token is not None
    return token


SOL, USDC = _token("SOL"), _token("USDC")
AMOUNT = Decimal("1.5")
SLIPPAGE_BPS = 50


def _landing(order_id: uuid.UUID, decision: Decision) -> Landing:
    return Landing(
        order_id=order_id,
        held_seq=4,
        amount_in=AMOUNT,
        slippage_bps=SLIPPAGE_BPS,
        decision=decision,
        token_in=SOL,
        token_out=USDC,
        signature=f"sig-{order_id}",
        landed=None,
    )


@dataclasses.dataclass(frozen=True)
class OwnPair:
    """A pair of this test's own, with SOL/USDC's seeded pools, so no other test's swaps move them."""

    name: str
    pools: PairPools
    now: int

    def decision(self) -> Decision:
        """Selling AMOUNT SOL on these pools, as the router decides it."""
        side = Side(self.name, sell_base=True)
        return decide(self.pools, side, SOL, USDC, AMOUNT, SLIPPAGE_BPS, self.now)


@pytest_asyncio.fixture(loop_scope="session")
async def pair(engine: AsyncEngine) -> AsyncIterator[OwnPair]:
    """A fresh pair in the pools table, removed after the test."""
    now = int(time.time())
    pair = OwnPair(f"TEST-{uuid.uuid4().hex[:8]}", default_pools(now=now)["SOL/USDC"], now)
    row = {"pair": pair.name, "state": dump(pair.pools), "synced_at": now, "origin": now}
    async with engine.begin() as conn:
        await conn.execute(sa.insert(pools_table).values(row))
    yield pair
    async with engine.begin() as conn:
        await conn.execute(sa.delete(pools_table).where(pools_table.c.pair == pair.name))


@pytest.fixture
def announced() -> list[list[OrderEvent]]:
    """Each publish the lander asked for: the events it announced together."""
    return []


@pytest.fixture
def lander(
    db: Database,
    database_url: str,
    amqp_url: str,
    announced: list[list[OrderEvent]],
) -> Lander:
    """A worker's lander on the tests' database, its announcements recorded instead of published."""

    async def announce(events: list[OrderEvent]) -> None:
        announced.append(events)

    settings = WorkerSettings(database_url=database_url, amqp_url=amqp_url)
    res = Resources(db, settings, venue_latency(settings), create_metrics(), ParsedPools(), Catalog())
    return Lander(res, announce)


async def _submitted_orders(engine: AsyncEngine, db: Database, count: int) -> list[uuid.UUID]:
    orders = [await new_order(engine, "landing-tests", AMOUNT) for _ in range(count)]
    for order_id in orders:
        await to_submitted(db, order_id)
    return orders


async def test_queued_swaps_land_together_each_once(
    engine: AsyncEngine,
    db: Database,
    pair: OwnPair,
    lander: Lander,
    announced: list[list[OrderEvent]],
) -> None:
    orders = await _submitted_orders(engine, db, 20)
    decision = pair.decision()
    # The last order asks for more than any swap can pay: it fails alone, the others still land.
    greedy = dataclasses.replace(decision, min_amount_out=decision.expected_out * 2)
    decisions = [decision] * 19 + [greedy]
    outcomes = await asyncio.gather(
        *(lander.land(_landing(o, d)) for o, d in zip(orders, decisions, strict=True)),
        return_exceptions=True,
    )
    # The same swap again (a second holder): the order is confirmed now, so nothing lands twice.
    again = await lander.land(_landing(orders[0], decision))

    async with engine.connect() as conn:
        version = (
            await conn.execute(sa.select(pools_table.c.version).where(pools_table.c.pair == pair.name))
        ).scalar()
        ledger = await conn.execute(
            sa.select(executions_table.c.order_id).where(executions_table.c.order_id.in_(orders))
        )
        landed = set(ledger.scalars())

    events = [e for e in outcomes[:19] if isinstance(e, OrderEvent)]
    assert [(e.seq, e.status) for e in events] == [(5, Status.CONFIRMED)] * 19, outcomes
    assert isinstance(outcomes[19], SlippageExceeded)
    assert again is None
    assert landed == set(orders[:19])
    # The first task found the pair free and landed alone; the other 19 queued behind it and landed as one.
    assert version == 2
    # Each batch's `confirmed` events are announced together, each once; the repeat announces nothing.
    assert [len(batch) for batch in announced] == [1, 18]
    assert sorted(e.order_id.hex for batch in announced for e in batch) == sorted(
        e.order_id.hex for e in events
    )


async def test_a_swap_cancelled_while_queued_is_withdrawn_not_landed_unannounced(
    engine: AsyncEngine, db: Database, pair: OwnPair, lander: Lander
) -> None:
    first, cancelled, last = await _submitted_orders(engine, db, 3)
    decision = pair.decision()

    async with engine.connect() as blocker:
        # Hold the pair's row: the first swap takes the turn and waits in Postgres for the lock.
        await blocker.execute(
            sa.select(pools_table.c.pair).where(pools_table.c.pair == pair.name).with_for_update()
        )
        landing_first = asyncio.create_task(lander.land(_landing(first, decision)))
        await _until_a_backend_waits_on_pools(engine)
        queued = asyncio.create_task(lander.land(_landing(cancelled, decision)))
        await asyncio.sleep(0)  # one loop turn: the task queues for the pair's turn (no timing involved)
        queued.cancel()
        with pytest.raises(asyncio.CancelledError):
            await queued
        await blocker.rollback()
    assert isinstance(await landing_first, OrderEvent)
    # The next turn lands only its own swap: the withdrawn one stays `submitted` for its redelivery.
    assert isinstance(await lander.land(_landing(last, decision)), OrderEvent)

    async with engine.connect() as conn:
        statuses = dict(
            (
                await conn.execute(
                    sa.select(orders_table.c.id, orders_table.c.status).where(
                        orders_table.c.id.in_([first, cancelled, last])
                    )
                )
            ).all()
        )
    assert statuses == {first: "confirmed", cancelled: "submitted", last: "confirmed"}


async def _until_a_backend_waits_on_pools(engine: AsyncEngine) -> None:
    # This run's own backends only: the running stack's worker shares the database, not the application name.
    await until_waiting(
        engine,
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'orders-tests'"
        " AND wait_event_type = 'Lock' AND query LIKE '%FROM pools%'",
        "a backend waits on the pools row",
    )
