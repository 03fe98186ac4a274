"""The limit trigger's passes on a database and a vhost of their own: one trigger per pair (the second
finds every lease taken, and takes them over once the first's connection is gone); a pass expires what
is due, fires what the pools pay (open -> routing, an ExecuteOrder on the queue) and leaves the rest; a
landing's pools write wakes the pair's holder at once; the pairs are the `pools` table's."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from psycopg.types.json import Jsonb
from sqlalchemy.ext.asyncio import AsyncEngine

from orders_api.repository import LimitTerms, NewOrder, insert_limit_order, insert_orders
from orders_shared.amqp import connect
from orders_shared.contracts import ExecuteOrder, OrderEvent
from orders_shared.db import Database
from orders_shared.decision import decide, settled
from orders_shared.metrics import create_metrics
from orders_shared.pools import ParsedPools, dump
from orders_shared.repository import fetch_order, read_events, read_pools, seed_pools
from orders_shared.status import Status
from orders_shared.topology import declare
from orders_venues import PAIRS, Catalog, Side
from orders_venues.pools import default_pools
from orders_venues.tokens import Token, find_token
from orders_worker.app import build_trigger, venue_latency
from orders_worker.landing import Lander, Landing
from orders_worker.resources import Resources
from orders_worker.settings import WorkerSettings
from tests.support.infra import throwaway_vhost
from tests.support.locks import until_waiting
from tests.support.orders import open_limit_order, to_submitted

pytestmark = pytest.mark.asyncio(loop_scope="session")


def _token(symbol: str) -> Token:
    token = find_token(symbol)
    assert token is not None
    return token


SOL, USDC = _token("SOL"), _token("USDC")


async def _limit(db: Database, price: str, expires_in: timedelta = timedelta(hours=1)) -> uuid.UUID:
    return await open_limit_order(db, "trigger-pass-tests", price, expires_in)


async def _status(db: Database, order_id: uuid.UUID) -> str:
    async with db.connection() as conn:
        row = await fetch_order(conn, order_id)
    assert row is not None
    return row.status


async def test_a_pass_fires_expires_and_leaves_and_a_second_trigger_takes_over(
    own_db: Database, own_database_url: str, own_engine: AsyncEngine
) -> None:
    async with own_db.connection() as conn:
        await seed_pools(conn)
    fire_me, never, due = (
        await _limit(own_db, "1"),
        await _limit(own_db, "1000000"),
        await _limit(own_db, "1000000", timedelta(seconds=-1)),
    )
    with throwaway_vhost("orders-trigger") as amqp_url:
        connection = await connect(amqp_url, name="trigger-tests")
        settings = WorkerSettings(database_url=own_database_url, amqp_url=amqp_url)
        res = Resources(own_db, settings, venue_latency(settings), create_metrics(), ParsedPools(), Catalog())
        first, second = await build_trigger(res, connection), await build_trigger(res, connection)
        try:
            await first.pass_once()
            await second.pass_once()
            assert first.held == set(PAIRS)
            assert second.held == set()
            assert (await _status(own_db, fire_me), await _status(own_db, never)) == ("routing", "open")
            assert await _status(own_db, due) == "expired"
            async with own_db.connection() as conn:
                fired = await read_events(conn, fire_me)
            assert [e.status for e in fired] == [Status.PENDING, Status.OPEN, Status.ROUTING]
            topology = await declare(await connection.channel())
            message = await topology.execute.get(timeout=5)
            assert ExecuteOrder.model_validate_json(message.body) == ExecuteOrder(
                order_id=fire_me, attempt=1, seen_seq=3
            )
            # The first holder's connection goes (as when its worker dies): the second takes every pair.
            backend = (await first.connection()).info.backend_pid
            await first.release()
            # The lock frees when the holder's backend has exited, a moment after its client closed.
            await until_waiting(
                own_engine,
                "SELECT NOT EXISTS (SELECT FROM pg_stat_activity WHERE pid = :pid)",
                "the lease holder's backend to exit",
                {"pid": backend},
            )
            await second.pass_once()
            assert second.held == set(PAIRS)
        finally:
            await first.release()
            await second.release()
            await connection.close()


async def _market_buy_of_sol(db: Database, usdc: Decimal) -> uuid.UUID:
    """A USDC -> SOL market order stored and moved to (submitted, 4), ready to land."""
    order = NewOrder(uuid.uuid4(), "trigger-pass-tests", "USDC", "SOL", usdc, slippage_bps=5000)
    async with db.connection() as conn:
        assert await insert_orders(conn, [order])
    await to_submitted(db, order.order_id)
    return order.order_id


async def test_a_landing_notifies_the_pairs_holder_which_fires_what_the_pools_now_pay(
    own_db: Database, own_database_url: str
) -> None:
    """The pools row written by a swap's landing wakes the holder of the pair's lease (on its own
    connection, as in another process) and its pass for that pair fires the order the move crossed."""
    async with own_db.connection() as conn:
        await seed_pools(conn)
    with throwaway_vhost("orders-trigger-notify") as amqp_url:
        connection = await connect(amqp_url, name="trigger-notify-tests")
        settings = WorkerSettings(database_url=own_database_url, amqp_url=amqp_url)
        res = Resources(own_db, settings, venue_latency(settings), create_metrics(), ParsedPools(), Catalog())
        trigger = await build_trigger(res, connection)
        try:
            await trigger.pass_once()
            assert "SOL/USDC" in trigger.held
            async with own_db.connection() as conn:
                now = int(time.time())
                pools = settled(
                    await read_pools(conn, "SOL/USDC", res.parsed, res.catalog), settings, now, res.catalog
                )
            side = Side("SOL/USDC", sell_base=True)
            paid = decide(pools, side, SOL, USDC, Decimal("0.5"), 0, now).expected_out / Decimal("0.5")
            # Half a percent above what the pools pay now: it waits.
            crossed = await _limit(own_db, str((paid * Decimal("1.005")).quantize(Decimal("0.01"))))
            await trigger.pass_once()
            assert await _status(own_db, crossed) == "open"
            # A large purchase of SOL lands: the price of SOL rises well past the limit.
            buy = await _market_buy_of_sol(own_db, Decimal("300000"))
            buy_side = Side("SOL/USDC", sell_base=False)
            decision = decide(pools, buy_side, USDC, SOL, Decimal("300000"), 5000, now)
            lander = Lander(res, _ignore)
            landing = Landing(buy, 4, Decimal("300000"), 5000, decision, USDC, SOL, f"sig-{buy}", None)
            assert await lander.land(landing) is not None
            assert await trigger.on_changes(within=10) == ["SOL/USDC"]
            assert await _status(own_db, crossed) == "routing"
        finally:
            await trigger.release()
            await connection.close()


async def test_the_pairs_come_from_the_pools_table(own_db: Database, own_database_url: str) -> None:
    """A pair added to `pools` at run time (a launch) is leased and evaluated from the next pass."""
    async with own_db.connection() as conn:
        await seed_pools(conn)
        now = int(time.time())
        state = Jsonb(dump(default_pools(now=now)["SOL/USDC"]))
        await conn.execute(
            "INSERT INTO pools (pair, state, synced_at, origin) VALUES ('TESTLAUNCH/SOL', %s, %s, %s)",
            [state, now, now],
        )
    with throwaway_vhost("orders-trigger-pairs") as amqp_url:
        connection = await connect(amqp_url, name="trigger-pairs-tests")
        settings = WorkerSettings(database_url=own_database_url, amqp_url=amqp_url)
        res = Resources(own_db, settings, venue_latency(settings), create_metrics(), ParsedPools(), Catalog())
        trigger = await build_trigger(res, connection)
        try:
            await trigger.pass_once()
            assert trigger.held == {*PAIRS, "TESTLAUNCH/SOL"}
        finally:
            await trigger.release()
            await connection.close()
            async with own_db.connection() as conn:
                await conn.execute("DELETE FROM pools WHERE pair = 'TESTLAUNCH/SOL'")


async def _ignore(events: list[OrderEvent]) -> None:
    """The lander's announcements: nobody listens in this test."""


async def test_a_pass_fires_an_order_of_a_cheap_token_the_pools_pay(
    own_db: Database, own_database_url: str
) -> None:
    """The price bound is exact enough for a token worth a millionth of a cent in SOL (BONK): an order a
    few percent under what the pools pay fires (a bound from a dust-sized probe, rounded to a lamport, was
    25 % too low, and such an order never fired)."""
    async with own_db.connection() as conn:
        await seed_pools(conn)
        now = int(time.time())
        pools = settled(
            await read_pools(conn, "BONK/SOL", ParsedPools(), Catalog()),
            WorkerSettings(database_url=own_database_url, amqp_url="amqp://unused/"),
            now,
            Catalog(),
        )
    amount = Decimal("5000000")
    paid = (
        decide(
            pools, Side("BONK/SOL", sell_base=True), _token("BONK"), _token("SOL"), amount, 0, now
        ).expected_out
        / amount
    )
    order = NewOrder(uuid.uuid4(), "trigger-pass-tests", "BONK", "SOL", amount, slippage_bps=50)
    terms = LimitTerms(paid * Decimal("0.97"), datetime.now(UTC) + timedelta(hours=1))
    async with own_db.connection() as conn:
        assert await insert_limit_order(conn, order, terms)
    with throwaway_vhost("orders-trigger-bonk") as amqp_url:
        connection = await connect(amqp_url, name="trigger-bonk-tests")
        settings = WorkerSettings(database_url=own_database_url, amqp_url=amqp_url)
        res = Resources(own_db, settings, venue_latency(settings), create_metrics(), ParsedPools(), Catalog())
        trigger = await build_trigger(res, connection)
        try:
            await trigger.pass_once()
            assert await _status(own_db, order.order_id) == "routing"
        finally:
            await trigger.release()
            await connection.close()


async def test_the_trigger_wakes_for_the_earliest_expiry_of_the_pairs_it_holds(
    own_db: Database, own_database_url: str
) -> None:
    async with own_db.connection() as conn:
        await seed_pools(conn)
    later = await _limit(own_db, "1000000", timedelta(seconds=60))
    with throwaway_vhost("orders-trigger") as amqp_url:
        connection = await connect(amqp_url, name="trigger-tests")
        settings = WorkerSettings(database_url=own_database_url, amqp_url=amqp_url)
        res = Resources(own_db, settings, venue_latency(settings), create_metrics(), ParsedPools(), Catalog())
        trigger = await build_trigger(res, connection)
        try:
            # Holding nothing, it has no expiry to wake for.
            assert await trigger.next_expiry() == float("inf")
            await trigger.pass_once()
            # Its wake is the order's expiry (a minute away), not the next tick.
            assert 50 < await trigger.next_expiry() - time.monotonic() <= 60
            soon = await _limit(own_db, "1000000", timedelta(seconds=20))
            assert 10 < await trigger.next_expiry() - time.monotonic() <= 20
            async with own_db.connection() as conn:
                await conn.execute(
                    "UPDATE orders SET expires_at = now() - interval '1 second' WHERE id = %s", [soon]
                )
            await trigger.expire_held()
            assert (await _status(own_db, soon), await _status(own_db, later)) == ("expired", "open")
        finally:
            await trigger.release()
            await connection.close()
