"""Limit orders through the client and the `orders` command, against the real services: placed and seen
`open`, cancelled, expired, filled, refused, and listed by type and status."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import pytest_asyncio

from orders_client import ApiError, OrderEvent, OrdersClient
from orders_shared.amqp import connect, publish
from orders_shared.auth import ANONYMOUS
from orders_shared.contracts import ExecuteOrder
from orders_shared.db import Database
from orders_shared.repository import leave_open
from orders_shared.status import Status
from orders_shared.topology import EXECUTE_KEY, declare
from tests.client.cli_runs import orders, orders_json
from tests.support.orders import open_limit_order
from tests.support.services import Stack

pytestmark = [pytest.mark.e2e]  # async tests run on the session loop (asyncio_default_test_loop_scope)

# A SOL price in USDC no pool pays (the order waits), and one every pool beats (it fires at once).
NEVER = "1000000"
ALWAYS = "1"
FILLED = ["pending", "open", "routing", "routing", "building", "submitted", "confirmed"]


@pytest_asyncio.fixture(loop_scope="session")
async def client(open_api: Stack) -> AsyncIterator[OrdersClient]:
    async with OrdersClient(open_api.api, open_api.ws) as client:
        yield client


async def _until(client: OrdersClient, order_id: str, status: str) -> list[OrderEvent]:
    """The order's events up to the first in ``status``, read from its stream."""
    seen: list[OrderEvent] = []
    async with asyncio.timeout(15):
        async for event in client.follow(order_id):
            seen.append(event)
            if event.status == status:
                return seen
    raise AssertionError(f"the stream ended without {status}: {[e.status for e in seen]}")


async def test_a_limit_order_waits_open_then_cancel_ends_it_and_the_stream(client: OrdersClient) -> None:
    expires_at = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)
    accepted = await client.limit("SOL", "USDC", "0.5", price=NEVER, expires_at=expires_at)

    waiting = await _until(client, accepted.order_id, "open")
    assert [e.status for e in waiting] == ["pending", "open"]
    assert not waiting[-1].terminal

    order = await client.get(accepted.order_id)
    assert (order.status, order.type) == ("open", "limit")
    assert order.limit_price == Decimal(NEVER)
    assert order.expires_at == expires_at
    assert not order.terminal

    cancelled = await client.cancel(accepted.order_id)
    assert cancelled.status == "cancelled"
    assert cancelled.terminal
    assert [e.status for e in cancelled.events] == ["pending", "open", "cancelled"]
    again = await client.cancel(accepted.order_id)
    assert again.raw == cancelled.raw

    # `cancelled` is an end: waiting on the order returns, after seq 2 with just that event.
    async with asyncio.timeout(10):
        rest = await client.wait(accepted.order_id, after_seq=2)
    assert [(e.seq, e.status) for e in rest] == [(3, "cancelled")]


async def test_a_limit_order_the_pools_pay_fires_and_waiting_ends_at_confirmed(client: OrdersClient) -> None:
    accepted = await client.limit("SOL", "USDC", "0.5", price=ALWAYS)
    async with asyncio.timeout(30):
        events = await client.wait(accepted.order_id)
    assert [e.status for e in events] == FILLED
    building = next(e for e in events if e.status == "building")
    assert building.min_amount_out == Decimal("0.5")  # amountIn x limitPrice

    with pytest.raises(ApiError) as conflict:
        await client.cancel(accepted.order_id)
    assert conflict.value.status == 409
    assert "confirmed" in conflict.value.detail


async def test_an_expiry_in_the_past_or_a_naive_time_is_refused(client: OrdersClient) -> None:
    with pytest.raises(ApiError) as past:
        await client.limit("SOL", "USDC", "0.5", price=NEVER, expires_at=datetime.now(UTC) - timedelta(1))
    assert [e.field for e in past.value.errors] == ["expiresAt"]
    with pytest.raises(ValueError, match="time zone"):
        await client.limit("SOL", "USDC", "0.5", price=NEVER, expires_at=datetime(2030, 1, 1))  # noqa: DTZ001


def test_cli_limit_is_seen_open_then_cancelled(open_api: Stack) -> None:
    placed = orders("limit", "SOL", "USDC", "0.5", "--price", NEVER, "--expires", "10m", stack=open_api)
    assert placed.returncode == 0, placed.stderr
    assert "limit 1000000 accepted:" in placed.stdout
    assert "orders cancel" in placed.stdout
    order_id = placed.stdout.split("accepted:")[1].split()[0]

    got = orders("get", order_id, stack=open_api)
    assert got.returncode == 0, got.stderr
    assert "limit" in got.stdout
    assert "open" in got.stdout
    assert "limit price 1,000,000 USDC per SOL" in got.stdout
    assert "expires at" in got.stdout
    assert "waiting for its trigger" in got.stdout
    expires = datetime.fromisoformat(orders_json("get", order_id, stack=open_api)["expiresAt"])
    assert timedelta(minutes=9) < expires - datetime.now(UTC) <= timedelta(minutes=10)

    cancelled = orders("cancel", order_id, stack=open_api)
    assert cancelled.returncode == 0, cancelled.stderr
    assert "cancelled" in cancelled.stdout
    assert "cancelled before it fired" in cancelled.stdout
    assert orders_json("cancel", order_id, stack=open_api)["status"] == "cancelled"

    followed = orders("follow", order_id, stack=open_api, timeout=20)
    assert followed.returncode == 3, followed.stdout + followed.stderr
    assert "cancelled: it never filled" in followed.stdout


def test_cli_limit_that_expires_ends_expired_with_exit_3(open_api: Stack) -> None:
    followed = orders(
        "limit", "SOL", "USDC", "0.5", "--price", NEVER, "--expires", "2s", "--follow",
        stack=open_api, timeout=30,
    )  # fmt: skip
    assert followed.returncode == 3, followed.stdout + followed.stderr
    for status in ("pending", "open", "expired"):
        assert status in followed.stdout
    assert "expired: it never filled" in followed.stdout


def test_cli_limit_that_fills_follows_it_to_confirmed(open_api: Stack) -> None:
    followed = orders("limit", "SOL", "USDC", "0.5", "--price", ALWAYS, "--follow", stack=open_api)
    assert followed.returncode == 0, followed.stdout + followed.stderr
    assert "fired" in followed.stdout
    assert "6/6" in followed.stdout
    assert "confirmed 0" not in followed.stdout  # it paid at least its limit: 0.5 USDC
    order_id = followed.stdout.split("accepted:")[1].split()[0]

    refused = orders("cancel", order_id, stack=open_api)
    assert refused.returncode == 2
    assert "409" in refused.stderr
    assert "confirmed" in refused.stderr


def test_cli_refuses_a_bad_expiry_before_asking_the_api(open_api: Stack) -> None:
    for bad in ("10x", "0m", "2026-12-01T12:00:00"):
        refused = orders("limit", "SOL", "USDC", "1", "--price", "152", "--expires", bad, stack=open_api)
        assert refused.returncode == 2, bad
        assert "--expires" in refused.stderr


def test_cli_snipe_needs_its_slippage(open_api: Stack) -> None:
    refused = orders("snipe", "SOL", "PUMP", "0.5", stack=open_api)
    assert refused.returncode == 2
    assert "--slippage-bps" in refused.stderr


def test_cli_list_filters_by_status(open_api: Stack) -> None:
    order_id = orders_json("limit", "SOL", "USDC", "0.5", "--price", NEVER, stack=open_api)["orderId"]
    listed = orders_json("list", "--type", "limit", "--status", "open", stack=open_api)["orders"]
    assert order_id in [o["orderId"] for o in listed]
    assert {(o["type"], o["status"]) for o in listed} == {("limit", "open")}

    table = orders("list", "--status", "open", stack=open_api)
    assert table.returncode == 0, table.stderr
    row = next(line for line in table.stdout.splitlines() if order_id in line)
    assert row.split()[1:4] == ["limit", "SOL→USDC", "0.5"]
    assert "1,000,000" in row
    orders("cancel", order_id, stack=open_api)


@pytest.mark.reads
def test_cli_list_filters_by_type(open_api: Stack) -> None:
    limit_id = orders_json("limit", "SOL", "USDC", "0.5", "--price", NEVER, stack=open_api)["orderId"]
    market_id = orders_json("submit", "USDC", "SOL", "10", stack=open_api)["orderId"]
    try:
        limits = orders_json("list", "--type", "limit", "--limit", "200", stack=open_api)["orders"]
        markets = orders_json("list", "--type", "market", "--limit", "200", stack=open_api)["orders"]
    finally:
        orders("cancel", limit_id, stack=open_api)
    assert limit_id in [o["orderId"] for o in limits]
    assert market_id not in [o["orderId"] for o in limits]
    assert {o["type"] for o in limits} == {"limit"}
    assert market_id in [o["orderId"] for o in markets]
    assert {o["type"] for o in markets} == {"market"}


@pytest.mark.reads
async def test_an_open_limit_order_says_what_the_best_route_pays_and_why_it_waits(
    client: OrdersClient, open_api: Stack
) -> None:
    accepted = await client.limit("SOL", "USDC", "0.5", price=NEVER)
    try:
        order = await client.get(accepted.order_id)
        assert order.current_price is not None
        assert Decimal(0) < order.current_price < Decimal(NEVER)
        assert order.waiting_reason
        shown = orders("get", accepted.order_id, stack=open_api)
        # The price may have moved since: the line is there, its figures are the api's of the moment.
        assert shown.returncode == 0, shown.stderr
        assert "waiting: " in shown.stdout
    finally:
        await client.cancel(accepted.order_id)


@pytest.mark.trigger
async def test_cli_follow_shows_a_missed_price_back_to_open_then_the_expiry(open_api: Stack) -> None:
    # Fired as the trigger fires one, at a price no pool pays when its swap lands (as the anonymous client
    # of the open api, whose orders the CLI reads): the swap misses, the order waits open again, expires.
    async with Database(open_api.env["DATABASE_URL"], size=1, application_name="client-tests") as db:
        order_id = await open_limit_order(db, ANONYMOUS, NEVER, timedelta(seconds=3))
        async with db.connection() as conn:
            fired = await leave_open(conn, order_id, Status.ROUTING, attempt=1)
    assert fired is not None
    connection = await connect(open_api.env["AMQP_URL"], name="client-tests")
    try:
        topology = await declare(await connection.channel(publisher_confirms=True))
        await publish(topology.orders, EXECUTE_KEY, ExecuteOrder(order_id=order_id, attempt=1, seen_seq=3))
    finally:
        await connection.close()

    followed = await asyncio.to_thread(orders, "follow", str(order_id), stack=open_api, timeout=30)
    assert followed.returncode == 3, followed.stdout + followed.stderr
    text = " ".join(followed.stdout.split())
    assert "✔ submitted" in text
    assert "↺ open" in text
    assert "missed its price: the swap would pay" in text
    assert "limit 1,000,000; waiting again" in text
    assert "■ expired" in text
    assert "expired: it never filled" in text
