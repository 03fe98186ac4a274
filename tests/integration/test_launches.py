"""Launches and sniper orders on a database and a vhost of their own: a launch's rows, the seeded schedule
written once whichever worker computes it, and a launch's turn firing its snipers in submission order."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import pytest_asyncio
from aio_pika.abc import AbstractRobustConnection

from orders_shared.amqp import connect
from orders_shared.contracts import TokenLaunched
from orders_shared.db import Database
from orders_shared.launches import Launch, due, launch, plan, refresh, resolve
from orders_shared.metrics import create_metrics
from orders_shared.pools import ParsedPools
from orders_shared.repository import (
    NewSniper,
    fetch_order,
    insert_sniper_order,
    list_launches,
    read_events,
    read_pools,
)
from orders_shared.status import Status
from orders_shared.topology import LAUNCH_KEY, declare
from orders_venues import Catalog, derived_mint
from orders_worker.app import build_launchpad, venue_latency
from orders_worker.resources import Resources
from orders_worker.settings import WorkerSettings
from orders_worker.snipe import Launchpad
from tests.support.infra import throwaway_vhost

pytestmark = pytest.mark.asyncio(loop_scope="session")

CLIENT = "launch-tests"


@pytest_asyncio.fixture(loop_scope="session", scope="module")
async def amqp() -> AsyncIterator[tuple[str, AbstractRobustConnection]]:
    """A vhost of this module's own, and a connection to it."""
    with throwaway_vhost("orders-launches") as url:
        connection = await connect(url, name="launch-tests")
        yield url, connection
        await connection.close()


async def _launchpad(
    db: Database, database_url: str, amqp: tuple[str, AbstractRobustConnection], per_hour: int = 0
) -> Launchpad:
    url, connection = amqp
    settings = WorkerSettings(database_url=database_url, amqp_url=url, market_launches_per_hour=per_hour)
    res = Resources(db, settings, venue_latency(settings), create_metrics(), ParsedPools(), Catalog())
    return await build_launchpad(res, connection)


def _planned(symbol: str, *, opens_in: timedelta = timedelta(0), mint: str | None = None) -> Launch:
    at = datetime.now(UTC) + opens_in if opens_in else None
    return plan(
        symbol, decimals=6, quote="SOL", price=Decimal("0.0001"), liquidity=Decimal("500"), at=at, mint=mint
    )


async def _sniper(
    db: Database, token_out: str, amount: str, *, slippage_bps: int = 5000, max_price: str | None = None
) -> uuid.UUID:
    order_id = uuid.uuid4()
    new = NewSniper(
        order_id=order_id,
        client=CLIENT,
        idempotency_key=None,
        request_hash=None,
        token_in="SOL",
        token_out=token_out,
        amount_in=Decimal(amount),
        slippage_bps=slippage_bps,
        max_price=None if max_price is None else Decimal(max_price),
        expires_at=datetime.now(UTC) + timedelta(hours=1),
    )
    async with db.connection() as conn:
        assert await insert_sniper_order(conn, new)
    return order_id


async def test_a_launch_writes_its_token_and_pools_once(own_db: Database) -> None:
    planned = _planned("LNCHA", opens_in=timedelta(minutes=5))
    catalog = Catalog()
    async with own_db.connection() as conn:
        assert await launch(conn, catalog, planned)
        assert not await launch(conn, catalog, planned)  # the same symbol again: nothing written
        rows = await list_launches(conn)
        state = await read_pools(conn, planned.pair, ParsedPools(), Catalog())
        cur = await conn.execute("SELECT opens_at, origin FROM pools WHERE pair = %s", [planned.pair])
        opens_at, origin = await cur.fetchone() or (None, None)
    row = next(r for r in rows if r.symbol == "LNCHA")
    assert (row.mint, row.decimals, row.quote) == (planned.token.mint, 6, "SOL")
    assert (row.price, row.liquidity) == (Decimal("0.0001"), Decimal("500"))
    assert opens_at == origin == int(planned.opens_at.timestamp())
    assert state.pools.base == planned.token
    assert state.pools.raydium.vault_1 == 500 * 10**9
    assert state.pools.meteora.bins == {}  # no liquidity on the other venue yet


async def test_a_process_that_missed_the_launch_finds_it_by_symbol_or_mint(own_db: Database) -> None:
    mint = derived_mint("launch-tests/LNCHB")
    planned = _planned("LNCHB", mint=mint)
    launching, missed, refreshed = Catalog(), Catalog(), Catalog()
    async with own_db.connection() as conn:
        assert await launch(conn, launching, planned)
        assert missed.find_token(mint) is None
        found = await resolve(conn, missed, mint)
        assert await resolve(conn, missed, "lnchb") == found
        assert await resolve(conn, missed, derived_mint("never launched")) is None
        # Neither a symbol nor a mint: not looked up (a NUL byte would make Postgres refuse the query).
        assert await resolve(conn, missed, "bad\x00token") is None
        known = await refresh(conn, refreshed)
    assert found is not None
    assert (found.symbol, found.mint, found.decimals) == ("LNCHB", mint, 6)
    assert "LNCHB" in {k.token.symbol for k in known}
    assert launching.listing("LNCHB/SOL") is not None
    assert missed.listing("LNCHB/SOL") is not None
    assert refreshed.listing("LNCHB/SOL") is not None


async def test_the_schedule_is_written_once_and_announced_by_the_worker_that_wrote_it(
    own_db: Database, own_database_url: str, amqp: tuple[str, AbstractRobustConnection]
) -> None:
    _, connection = amqp
    channel = await connection.channel()
    topology = await declare(channel)
    heard = await channel.declare_queue(exclusive=True)
    await heard.bind(topology.market, LAUNCH_KEY)
    first = await _launchpad(own_db, own_database_url, amqp, per_hour=30)
    second = await _launchpad(own_db, own_database_url, amqp, per_hour=30)
    now = datetime.now(UTC)
    expected = due(first.res.settings.market_seed, 30, now)
    assert expected, "30 launches an hour: the last hour's are due"
    assert expected == due(second.res.settings.market_seed, 30, now)  # every worker computes the same
    wrote = await first.schedule(now)
    assert await second.schedule(now) == []
    assert [launch.token.symbol for launch in wrote] == [launch.token.symbol for launch in expected]
    async with own_db.connection() as conn:
        symbols = {row.symbol for row in await list_launches(conn)}
    assert {launch.token.symbol for launch in expected} <= symbols
    announced = []
    for _ in expected:
        message = await heard.get(timeout=5)
        announced.append(TokenLaunched.model_validate_json(message.body))
    assert [m.symbol for m in announced] == [launch.token.symbol for launch in expected]
    assert await heard.get(fail=False) is None  # the second worker announced nothing


async def test_snipers_wait_until_the_pool_opens(
    own_db: Database, own_database_url: str, amqp: tuple[str, AbstractRobustConnection]
) -> None:
    planned = _planned("LNCHC", opens_in=timedelta(hours=1))
    async with own_db.connection() as conn:
        assert await launch(conn, Catalog(), planned)
    waiting = await _sniper(own_db, "LNCHC", "1")
    await (await _launchpad(own_db, own_database_url, amqp)).pass_once()
    async with own_db.connection() as conn:
        row = await fetch_order(conn, waiting)
    assert row is not None
    assert row.status == "open"


async def test_a_launch_fires_its_snipers_in_submission_order_at_rising_prices(
    own_db: Database, own_database_url: str, amqp: tuple[str, AbstractRobustConnection]
) -> None:
    planned = _planned("LNCHD", opens_in=timedelta(hours=1))
    async with own_db.connection() as conn:
        assert await launch(conn, Catalog(), planned)
    # By symbol and by mint; the third accepts no more than the opening price: it cannot land third.
    first = await _sniper(own_db, "LNCHD", "20")
    second = await _sniper(own_db, planned.token.mint, "20")
    greedy = await _sniper(own_db, "LNCHD", "1", max_price="0.0001")
    tight = await _sniper(own_db, "LNCHD", "20", slippage_bps=100)
    fourth = await _sniper(own_db, "LNCHD", "20")
    # The pool opens now (as its time comes): the next pass is its first turn.
    async with own_db.connection() as conn:
        await conn.execute(
            "UPDATE tokens SET opens_at = now() WHERE symbol = 'LNCHD';"
            "UPDATE pools SET opens_at = extract(epoch FROM now())::bigint WHERE pair = 'LNCHD/SOL'"
        )
    pad = await _launchpad(own_db, own_database_url, amqp)
    await pad.pass_once()
    rows = {}
    async with own_db.connection() as conn:
        for order_id in (first, second, greedy, tight, fourth):
            row = await fetch_order(conn, order_id)
            assert row is not None
            rows[order_id] = row
        events = {order_id: await read_events(conn, order_id) for order_id in rows}
        executions = await conn.execute(
            "SELECT order_id FROM executions WHERE order_id = ANY(%s)", [list(rows)]
        )
        landed = {r[0] for r in await executions.fetchall()}
    confirmed = [first, second, fourth]
    assert [rows[o].status for o in (first, second, greedy, tight, fourth)] == [
        "confirmed", "confirmed", "failed", "failed", "confirmed",
    ]  # fmt: skip
    assert landed == set(confirmed)
    assert rows[greedy].failure_code == rows[tight].failure_code == "SLIPPAGE_EXCEEDED"
    assert "maxPrice" in (rows[greedy].failure_reason or "")
    # Tokens per SOL fall with each swap: each later sniper pays more per token.
    prices = [rows[o].executed_price for o in confirmed]
    assert all(p is not None for p in prices)
    assert prices[0] > prices[1] > prices[2]  # type: ignore[operator]
    for order_id in confirmed:
        assert [e.status for e in events[order_id]] == [
            Status.PENDING, Status.OPEN, Status.ROUTING, Status.BUILDING, Status.SUBMITTED, Status.CONFIRMED,
        ]  # fmt: skip
        assert [e.seq for e in events[order_id]] == list(range(1, 7))
    assert [e.status for e in events[tight]][-1] is Status.FAILED
    # A second pass finds nothing left to fire.
    assert await pad.fire(planned) == []


async def test_a_sniper_past_its_expiry_expires(
    own_db: Database, own_database_url: str, amqp: tuple[str, AbstractRobustConnection]
) -> None:
    order_id = await _sniper(own_db, derived_mint("launch-tests/never"), "1")
    async with own_db.connection() as conn:
        await conn.execute(
            "UPDATE orders SET expires_at = now() - interval '1 second' WHERE id = %s", [order_id]
        )
    await (await _launchpad(own_db, own_database_url, amqp)).pass_once()
    async with own_db.connection() as conn:
        events = await read_events(conn, order_id)
    assert [e.status for e in events] == [Status.PENDING, Status.OPEN, Status.EXPIRED]
