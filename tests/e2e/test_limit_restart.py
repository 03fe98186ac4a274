"""Open limit orders survive a restart of every service: stopped api, worker and notifier, started again,
the orders are still open; then one fires as the market moves across its price and the other expires."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import httpx
import pytest
import sqlalchemy as sa

from tests.conftest import FAST_VENUES, StackFactory
from tests.support.infra import reader_engine
from tests.support.streams import follow

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]

SERVICES = ("api", "worker", "notifier")
# No drift, arbitrage far slower than the test: only the test's market order moves the pool.
STILL = {"MARKET_VOLATILITY_BPS": "0", "ARBITRAGE_HALF_LIFE_S": "86400", **FAST_VENUES}
FILLED = ["pending", "open", "routing", "routing", "building", "submitted", "confirmed"]


async def _post(client: httpx.AsyncClient, body: dict[str, object]) -> str:
    response = await client.post("/api/orders/execute", json=body)
    assert response.status_code == 202, response.text
    order_id: str = response.json()["orderId"]
    return order_id


def _statuses(frames: list[dict[str, object]]) -> list[object]:
    return [f["status"] for f in frames if f["status"] != "ws_connected"]


async def test_open_orders_survive_a_restart_of_every_service_then_fire_or_expire(
    make_stack: StackFactory,
) -> None:
    stack = await make_stack(SERVICES, own_database=True, **STILL)
    engine = reader_engine(stack.env["DATABASE_URL"])
    try:
        async with httpx.AsyncClient(base_url=stack.api) as client:
            params = {"tokenIn": "SOL", "tokenOut": "USDC", "amountIn": "0.5"}
            paid = Decimal((await client.get("/api/quote", params=params)).json()["expectedAmountOut"]) * 2
            limit: dict[str, object] = {
                "tokenIn": "SOL",
                "tokenOut": "USDC",
                "amountIn": "0.5",
                "type": "limit",
            }
            # 2 % above the market: fires once a large purchase lifts the price; and one far above it.
            fires = await _post(
                client, {**limit, "limitPrice": str((paid * Decimal("1.02")).quantize(Decimal("0.01")))}
            )
            waits = await _post(client, {**limit, "limitPrice": "1000000"})

        for name in SERVICES:
            assert stack.services[name].stop() == 0
        async with engine.connect() as conn:
            stored: dict[str, str] = dict(
                (
                    await conn.execute(
                        sa.text("SELECT id::text, status FROM orders WHERE id::text IN (:a, :b)"),
                        {"a": fires, "b": waits},
                    )
                ).all()
            )
        assert stored == {fires: "open", waits: "open"}
        for name in SERVICES:
            await make_stack.add(stack, name)

        async with httpx.AsyncClient(base_url=stack.api) as client:
            for order_id in (fires, waits):
                assert (await client.get(f"/api/orders/{order_id}")).json()["status"] == "open"
            buy = await _post(
                client, {"tokenIn": "USDC", "tokenOut": "SOL", "amountIn": "600000", "slippageBps": 500}
            )
            # The other one's time comes (set in Postgres, as if it were due): the trigger expires it.
            async with engine.begin() as conn:
                await conn.execute(
                    sa.text("UPDATE orders SET expires_at = now() WHERE id::text = :id"), {"id": waits}
                )
            (fired, _), (expired, _), (bought, _) = await asyncio.gather(
                follow(stack.ws, fires), follow(stack.ws, waits), follow(stack.ws, buy)
            )
    finally:
        await engine.dispose()
    assert _statuses(bought)[-1] == "confirmed"
    assert _statuses(fired) == FILLED
    assert _statuses(expired) == ["pending", "open", "expired"]
