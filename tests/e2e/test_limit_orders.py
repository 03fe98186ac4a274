"""Limit orders on the real stack: they wait `open`, the worker's trigger fires the ones the pools pay and
expires the rest; one fires as soon as a large market order moves the pool across its price; one whose
swap misses its price when it lands goes back to `open`; a cancel and a fire race by compare-and-set, and
exactly one of them wins."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from orders_shared.amqp import connect, publish
from orders_shared.auth import ANONYMOUS
from orders_shared.contracts import ExecuteOrder
from orders_shared.db import Database
from orders_shared.repository import leave_open
from orders_shared.status import Status
from orders_shared.topology import EXECUTE_KEY, declare
from tests.conftest import FAST_VENUES, StackFactory
from tests.support.orders import open_limit_order
from tests.support.services import Stack
from tests.support.streams import follow

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]

FILLED = ["pending", "open", "routing", "routing", "building", "submitted", "confirmed"]
# A SOL price no pool pays, and one every pool beats.
NEVER = "1000000"
ALWAYS = "1"


async def _limit(client: httpx.AsyncClient, price: str, **fields: Any) -> str:
    body = {"tokenIn": "SOL", "tokenOut": "USDC", "amountIn": "0.5", "type": "limit", "limitPrice": price}
    response = await client.post("/api/orders/execute", json={**body, **fields})
    assert response.status_code == 202, response.text
    order_id: str = response.json()["orderId"]
    return order_id


def _statuses(frames: list[dict[str, Any]]) -> list[str]:
    return [f["status"] for f in frames if f["status"] != "ws_connected"]


async def test_a_limit_order_below_the_market_fills_to_confirmed(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.api) as client:
        order_id = await _limit(client, ALWAYS)
        frames, code = await follow(stack.ws, order_id)
        detail = (await client.get(f"/api/orders/{order_id}")).json()
    assert _statuses(frames) == FILLED
    assert [f["seq"] for f in frames[1:]] == list(range(1, len(FILLED) + 1))
    assert code == 1000
    building = next(f for f in frames if f["status"] == "building")
    # Its minimum is amountIn * limitPrice, not the quote less slippage.
    assert Decimal(building["minAmountOut"]) == Decimal("0.5")
    assert detail["status"] == "confirmed"
    assert detail["type"] == "limit"
    assert Decimal(detail["limitPrice"]) == 1
    assert Decimal(detail["amountOut"]) >= Decimal("0.5")
    expires = datetime.fromisoformat(detail["expiresAt"])
    assert timedelta(hours=23) < expires - datetime.now(UTC) <= timedelta(hours=24)


async def test_a_limit_order_far_above_the_market_never_fires_and_expires(stack: Stack) -> None:
    expires_at = (datetime.now(UTC) + timedelta(seconds=2)).isoformat()
    async with httpx.AsyncClient(base_url=stack.api) as client:
        order_id = await _limit(client, NEVER, expiresAt=expires_at)
        frames, code = await follow(stack.ws, order_id, within=15)
        detail = (await client.get(f"/api/orders/{order_id}")).json()
    assert _statuses(frames) == ["pending", "open", "expired"]
    assert code == 1000
    assert detail["status"] == "expired"
    expired_at = datetime.fromisoformat(frames[-1]["at"])
    # Within a pass (a second) of its time, with room for a loaded machine.
    assert timedelta(0) <= expired_at - datetime.fromisoformat(expires_at) < timedelta(seconds=3)


async def test_cancel_of_an_open_order_then_again_answers_the_same(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.api) as client:
        order_id = await _limit(client, NEVER)
        first = await client.delete(f"/api/orders/{order_id}")
        again = await client.delete(f"/api/orders/{order_id}")
        frames, code = await follow(stack.ws, order_id)
    assert first.status_code == 200, first.text
    assert first.json()["status"] == "cancelled"
    assert [e["status"] for e in first.json()["events"]] == ["pending", "open", "cancelled"]
    assert again.status_code == 200
    assert again.json() == first.json()
    assert _statuses(frames) == ["pending", "open", "cancelled"]
    assert code == 1000


async def test_cancel_after_confirm_is_a_conflict_naming_the_status(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.api) as client:
        order_id = await _limit(client, ALWAYS)
        frames, _ = await follow(stack.ws, order_id)
        assert _statuses(frames)[-1] == "confirmed"
        response = await client.delete(f"/api/orders/{order_id}")
    assert response.status_code == 409
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["errors"] == [{"field": "status", "message": problem["detail"]}]
    assert "confirmed" in problem["detail"]


async def test_cancel_of_an_unknown_order_is_not_found(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.api) as client:
        response = await client.delete("/api/orders/00000000-0000-4000-8000-000000000000")
    assert response.status_code == 404


async def _race(client: httpx.AsyncClient, stack: Stack, delay_s: float) -> str:
    """Submit an order the trigger will fire, cancel it ``delay_s`` later; which one won, checked."""
    order_id = await _limit(client, ALWAYS)
    await asyncio.sleep(delay_s)  # spreads the cancels over a trigger pass; no event is waited for here
    cancel = await client.delete(f"/api/orders/{order_id}")
    frames, code = await follow(stack.ws, order_id)
    statuses = _statuses(frames)
    assert code == 1000
    if cancel.status_code == 200:
        assert cancel.json()["status"] == "cancelled"
        assert statuses == ["pending", "open", "cancelled"]
        return "cancelled"
    assert cancel.status_code == 409, cancel.text
    assert statuses == FILLED, statuses
    return "fired"


async def test_cancel_racing_a_fire_ends_in_exactly_one(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.api) as client:
        # Fifty races whose cancels fall across a whole trigger pass (1 s).
        outcomes = await asyncio.gather(*(_race(client, stack, n * 0.02) for n in range(50)))
    assert set(outcomes) <= {"cancelled", "fired"}
    assert len(outcomes) == 50


async def test_a_fired_order_whose_swap_misses_its_price_goes_back_to_open_then_expires(stack: Stack) -> None:
    # Fired as the trigger fires one, at a price the pools no longer pay when its swap lands: stored open
    # above the market (as the open api's anonymous client), moved to routing and handed to the worker.
    async with Database(stack.env["DATABASE_URL"], size=1, application_name="limit-e2e") as db:
        order_id = await open_limit_order(db, ANONYMOUS, NEVER, timedelta(seconds=3))
        async with db.connection() as conn:
            fired = await leave_open(conn, order_id, Status.ROUTING, attempt=1)
    assert fired is not None
    connection = await connect(stack.env["AMQP_URL"], name="limit-e2e")
    try:
        topology = await declare(await connection.channel(publisher_confirms=True))
        await publish(topology.orders, EXECUTE_KEY, ExecuteOrder(order_id=order_id, attempt=1, seen_seq=3))
    finally:
        await connection.close()
    frames, code = await follow(stack.ws, str(order_id), within=20)
    statuses = _statuses(frames)
    assert statuses == ["pending", "open", "routing", "routing", "building", "submitted", "open", "expired"]
    assert [f["seq"] for f in frames[1:]] == list(range(1, len(statuses) + 1))
    assert code == 1000
    reopened = frames[7]
    assert Decimal(reopened["limitPrice"]) == Decimal(NEVER)
    assert 0 < Decimal(reopened["missedPrice"]) < Decimal(NEVER)
    async with httpx.AsyncClient(base_url=stack.api) as client:
        detail = (await client.get(f"/api/orders/{order_id}")).json()
    assert detail["status"] == "expired"
    assert detail.get("failureCode") is None


# A market that stands still between swaps (no drift, arbitrage far slower than the test), so the only
# thing that moves the pool is the test's own market order.
STILL = {"MARKET_VOLATILITY_BPS": "0", "ARBITRAGE_HALF_LIFE_S": "86400", **FAST_VENUES}


async def _price_now(client: httpx.AsyncClient, amount: str) -> Decimal:
    """What the best route pays per SOL for ``amount`` SOL now (USDC per SOL)."""
    params = {"tokenIn": "SOL", "tokenOut": "USDC", "amountIn": amount}
    quote = (await client.get("/api/quote", params=params)).json()
    return Decimal(quote["expectedAmountOut"]) / Decimal(amount)


async def test_a_limit_order_fires_when_a_large_market_order_moves_the_pool_across_its_price(
    make_stack: StackFactory,
) -> None:
    stack = await make_stack(("api", "worker", "notifier"), own_database=True, **STILL)
    async with httpx.AsyncClient(base_url=stack.api) as client:
        # 2 % above what the pools pay: it waits. A purchase of 600,000 USDC of SOL lifts the price ~4.6 %.
        limit_price = (await _price_now(client, "0.5") * Decimal("1.02")).quantize(Decimal("0.01"))
        limit_id = await _limit(client, str(limit_price))
        buy = await client.post(
            "/api/orders/execute",
            json={"tokenIn": "USDC", "tokenOut": "SOL", "amountIn": "600000", "slippageBps": 500},
        )
        assert buy.status_code == 202, buy.text
        (limit_frames, _), (buy_frames, _) = await asyncio.gather(
            follow(stack.ws, limit_id), follow(stack.ws, buy.json()["orderId"])
        )
        detail = (await client.get(f"/api/orders/{limit_id}")).json()
    assert _statuses(buy_frames)[-1] == "confirmed"
    assert _statuses(limit_frames) == FILLED
    fired_at = datetime.fromisoformat(limit_frames[3]["at"])
    bought_at = datetime.fromisoformat(buy_frames[-1]["at"])
    # It fired on the move: after the purchase landed, not before.
    assert fired_at >= bought_at
    assert Decimal(detail["executedPrice"]) >= limit_price
