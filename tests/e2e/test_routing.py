"""Routing on the pools in Postgres: quotes, venue switches under a burst, slippage failures."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from orders_shared.models import executions_table
from tests.conftest import StackFactory
from tests.support.infra import reader_engine
from tests.support.services import Stack
from tests.support.streams import follow

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]


async def _still_stack(make_stack: StackFactory, quote_ms: str, execute_ms: str) -> Stack:
    # A still market: no drift, no basis, arbitrage far too slow to matter within a test.
    return await make_stack(
        own_database=True,
        VENUE_QUOTE_LATENCY_MS=quote_ms,
        VENUE_EXECUTE_LATENCY_MS=execute_ms,
        MARKET_VOLATILITY_BPS="0",
        VENUE_BASIS_BPS="0",
        ARBITRAGE_HALF_LIFE_S="86400",
    )


async def _order(client: httpx.AsyncClient, ws: str, **body: Any) -> dict[str, Any]:
    response = await client.post("/api/orders/execute", json={"tokenIn": "SOL", "tokenOut": "USDC", **body})
    assert response.status_code == 202, response.text
    order_id = response.json()["orderId"]
    await follow(ws, order_id)
    order: dict[str, Any] = (await client.get(f"/api/orders/{order_id}")).json()
    return order


async def test_quote_shows_both_venues_and_the_route(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.api) as client:
        quote = (
            await client.get("/api/quote", params={"tokenIn": "SOL", "tokenOut": "USDC", "amountIn": "10"})
        ).json()
        big = (
            await client.get("/api/quote", params={"tokenIn": "SOL", "tokenOut": "USDC", "amountIn": "5000"})
        ).json()
        reverse = await client.get(
            "/api/quote", params={"tokenIn": "USDC", "tokenOut": "wsol", "amountIn": "100"}
        )
    assert {q["venue"] for q in quote["quotes"]} == {"raydium", "meteora"}
    best = max(Decimal(q["amountOut"]) for q in quote["quotes"])
    assert Decimal(quote["expectedAmountOut"]) >= best
    assert Decimal(quote["minAmountOut"]) == (
        Decimal(quote["expectedAmountOut"]) * Decimal("0.995")
    ).quantize(Decimal("0.000001"), rounding="ROUND_DOWN")
    assert quote["amountIn"] == "10"
    assert big["dexChosen"] == "split"
    assert sum(leg["percent"] for leg in big["route"]) == 100
    assert sum(Decimal(leg["amountIn"]) for leg in big["route"]) == Decimal(5000)
    assert reverse.status_code == 200
    assert reverse.json()["tokenOut"] == "SOL"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"tokenIn": "JUP", "tokenOut": "USDC", "amountIn": "1"}, "tokenOut"),
        ({"tokenIn": "SOL", "tokenOut": "USDC", "amountIn": "0.0000000001"}, "amountIn"),
        ({"tokenIn": "SOL", "tokenOut": "USDC", "amountIn": "-1"}, "amountIn"),
        ({"tokenIn": "SOL", "tokenOut": "USDC", "amountIn": "x"}, "amountIn"),
        ({"tokenIn": "BONK", "tokenOut": "SOL", "amountIn": "184467440737095.51615"}, "amountIn"),
        ({"tokenIn": "SOL", "tokenOut": "USDC"}, "amountIn"),
        ({"tokenIn": "SOL", "tokenOut": "USDC", "amountIn": "1", "slippageBps": "10001"}, "slippageBps"),
    ],
)
async def test_bad_quote_request_is_422_naming_the_field(
    stack: Stack, params: dict[str, str], field: str
) -> None:
    async with httpx.AsyncClient(base_url=stack.api) as client:
        response = await client.get("/api/quote", params=params)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert field in {e["field"] for e in response.json()["errors"]}


async def test_order_for_a_pair_without_pool_is_refused(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.api) as client:
        response = await client.post(
            "/api/orders/execute", json={"tokenIn": "JUP", "tokenOut": "USDC", "amountIn": "1"}
        )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "tokenOut"


async def test_burst_of_sales_moves_the_pool_and_the_router_switches_venue(make_stack: StackFactory) -> None:
    stack = await _still_stack(make_stack, "0", "0")
    chosen: list[str] = []
    meteora_quotes: list[Decimal] = []
    async with httpx.AsyncClient(base_url=stack.api) as client:
        for _ in range(6):
            order = await _order(client, stack.ws, amountIn="20")
            assert order["status"] == "confirmed", order
            chosen.append(order["dexChosen"])
            routing = next(e for e in order["events"] if e["status"] == "routing")
            meteora_quotes.append(
                Decimal(next(q["amountOut"] for q in routing["quotes"] if q["venue"] == "meteora"))
            )
    # Meteora's narrower fee wins first; each sale walks its bins down until Raydium (or a split) pays more.
    assert chosen[0] == "meteora"
    assert any(venue != "meteora" for venue in chosen[1:]), chosen
    assert meteora_quotes == sorted(meteora_quotes, reverse=True)
    assert meteora_quotes[-1] < meteora_quotes[0]


async def test_zero_slippage_orders_racing_on_one_pool_fail_with_slippage_exceeded(
    make_stack: StackFactory,
) -> None:
    stack = await _still_stack(make_stack, "5-10", "400-600")
    body = {"tokenIn": "SOL", "tokenOut": "USDC", "amountIn": "500", "slippageBps": 0}
    async with httpx.AsyncClient(base_url=stack.api) as client:
        # Quoted on the same pools, executed one after another: each later swap pays less than its quote.
        responses = await asyncio.gather(*(client.post("/api/orders/execute", json=body) for _ in range(4)))
        ids = [r.json()["orderId"] for r in responses]
        await asyncio.gather(*(follow(stack.ws, i) for i in ids))
        orders = [(await client.get(f"/api/orders/{i}")).json() for i in ids]
    failed = [o for o in orders if o["status"] == "failed"]
    assert failed, [o["status"] for o in orders]
    assert [o["status"] for o in orders].count("confirmed") >= 1
    for order in failed:
        assert order["failureCode"] == "SLIPPAGE_EXCEEDED"
        assert order["attempt"] == 1
        assert "below the minimum" in order["failureReason"]
        assert order["events"][-1]["errorCode"] == "SLIPPAGE_EXCEEDED"
    engine = reader_engine(stack.env["DATABASE_URL"], pool_size=1)
    try:
        async with engine.connect() as conn:
            executed = set((await conn.execute(sa.select(executions_table.c.order_id))).scalars().all())
    finally:
        await engine.dispose()
    assert executed == {uuid.UUID(o["orderId"]) for o in orders if o["status"] == "confirmed"}
