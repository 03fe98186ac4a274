"""The limit trigger's passes on a database and a vhost of their own: one trigger per pair (the second
finds every lease taken, and takes them over once the first's connection is gone); a pass expires what
is due, fires what the pools pay (open -> routing, an ExecuteOrder on the queue) and leaves the rest."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from orders_shared.amqp import connect
from orders_shared.contracts import ExecuteOrder
from orders_shared.db import Database
from orders_shared.metrics import create_metrics
from orders_shared.pools import ParsedPools
from orders_shared.repository import fetch_order, read_events, seed_pools
from orders_shared.status import Status
from orders_shared.topology import declare
from orders_venues import PAIRS
from orders_worker.app import build_trigger, venue_latency
from orders_worker.resources import Resources
from orders_worker.settings import WorkerSettings
from tests.support.infra import throwaway_vhost
from tests.support.orders import open_limit_order

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def _limit(db: Database, price: str, expires_in: timedelta = timedelta(hours=1)) -> uuid.UUID:
    return await open_limit_order(db, "trigger-pass-tests", price, expires_in)


async def _status(db: Database, order_id: uuid.UUID) -> str:
    async with db.connection() as conn:
        row = await fetch_order(conn, order_id)
    assert row is not None
    return row.status


async def test_a_pass_fires_expires_and_leaves_and_a_second_trigger_takes_over(
    own_db: Database, own_database_url: str
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
        res = Resources(own_db, settings, venue_latency(settings), create_metrics(), ParsedPools())
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
            await first.release()
            await second.pass_once()
            assert second.held == set(PAIRS)
        finally:
            await first.release()
            await second.release()
            await connection.close()
