"""Reading orders back on the real stack: the list filtered by type (and status), the caller's own orders
only, and an open limit order's price now and why it has not fired."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest

from tests.client.open_stack import new_api_key
from tests.conftest import StackFactory
from tests.support.services import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]

# A SOL price no pool pays: the order stays open.
NEVER = "1000000"
LIMIT = {"tokenIn": "SOL", "tokenOut": "USDC", "amountIn": "2", "type": "limit", "limitPrice": NEVER}
MARKET = {"tokenIn": "SOL", "tokenOut": "USDC", "amountIn": "0.1", "type": "market"}


async def _client(stack: Stack, name: str) -> httpx.AsyncClient:
    """A client of its own (a new API key), so its lists hold only what the test put there."""
    key = await new_api_key(stack, name)
    return httpx.AsyncClient(base_url=stack.api, headers={"Authorization": f"Bearer {key}"})


async def _submit(client: httpx.AsyncClient, body: dict[str, Any]) -> str:
    response = await client.post("/api/orders/execute", json=body)
    assert response.status_code == 202, response.text
    order_id: str = response.json()["orderId"]
    return order_id


async def _ids(client: httpx.AsyncClient, query: str) -> list[str]:
    response = await client.get(f"/api/orders?{query}")
    assert response.status_code == 200, response.text
    return [o["orderId"] for o in response.json()["orders"]]


async def test_the_list_filters_by_type_beside_status(stack: Stack) -> None:
    async with await _client(stack, "reads-type") as client:
        market = await _submit(client, MARKET)
        limit = await _submit(client, LIMIT)
        cancelled = await _submit(client, LIMIT)
        assert (await client.delete(f"/api/orders/{cancelled}")).status_code == 200

        assert await _ids(client, "type=market") == [market]
        assert await _ids(client, "type=limit") == [cancelled, limit]
        assert await _ids(client, "type=limit&status=open") == [limit]
        assert await _ids(client, "type=limit&status=cancelled") == [cancelled]
        assert await _ids(client, "type=market&status=open") == []
        assert await _ids(client, "type=sniper") == []
        assert await _ids(client, "") == [cancelled, limit, market]


async def test_the_type_filter_pages_as_the_plain_list_does(stack: Stack) -> None:
    async with await _client(stack, "reads-pages") as client:
        limits = [await _submit(client, LIMIT) for _ in range(3)]
        await _submit(client, MARKET)
        first = (await client.get("/api/orders?type=limit&limit=2")).json()
        rest = (await client.get(f"/api/orders?type=limit&limit=2&cursor={first['nextCursor']}")).json()
    assert [o["orderId"] for o in first["orders"]] == limits[::-1][:2]
    assert [o["orderId"] for o in rest["orders"]] == limits[:1]
    assert rest["nextCursor"] is None


async def test_the_list_shows_only_the_callers_own_orders_of_the_type(stack: Stack) -> None:
    async with await _client(stack, "reads-mine") as mine, await _client(stack, "reads-theirs") as theirs:
        order_id = await _submit(mine, LIMIT)
        assert await _ids(mine, "type=limit&status=open") == [order_id]
        assert await _ids(theirs, "type=limit&status=open") == []
        assert (await theirs.get(f"/api/orders/{order_id}")).status_code == 404


async def test_an_unknown_type_is_refused_naming_the_field(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.api) as client:
        response = await client.get("/api/orders?type=stop&status=open")
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in response.json()["errors"]] == ["type"]


async def test_an_open_limit_order_shows_its_price_now_and_why_it_waits(stack: Stack) -> None:
    async with await _client(stack, "reads-waiting") as client:
        order_id = await _submit(client, LIMIT)
        detail = (await client.get(f"/api/orders/{order_id}")).json()
        quote = (await client.get("/api/quote?tokenIn=SOL&tokenOut=USDC&amountIn=2")).json()
    assert detail["status"] == "open"
    price = Decimal(detail["currentPrice"])
    # The quote route's price for the same amount, read a moment apart: the pools drift by a few bps a second.
    quoted = Decimal(quote["expectedAmountOut"]) / 2
    assert abs(price - quoted) / quoted < Decimal("0.02")
    reason = detail["waitingReason"]
    assert reason.startswith("the best route pays ")
    assert " USDC per SOL; it fires at 1000000" in reason
    shown = Decimal(reason.removeprefix("the best route pays ").split(" ")[0])
    assert abs(shown - price) / price < Decimal("0.00001")


async def test_orders_that_do_not_wait_show_no_price_or_reason(stack: Stack) -> None:
    async with await _client(stack, "reads-done") as client:
        market = await _submit(client, MARKET)
        limit = await _submit(client, LIMIT)
        cancelled = (await client.delete(f"/api/orders/{limit}")).json()
        executing = (await client.get(f"/api/orders/{market}")).json()
    for detail in (cancelled, executing):
        assert detail["status"] != "open"
        assert detail["currentPrice"] is None
        assert detail["waitingReason"] is None


async def test_with_cors_another_origin_may_cancel(make_stack: StackFactory) -> None:
    cors = await make_stack(("api",), CORS_ALLOW_ORIGINS="https://desk.example")
    preflight = {"Origin": "https://desk.example", "Access-Control-Request-Method": "DELETE"}
    async with httpx.AsyncClient(base_url=cors.api) as client:
        response = await client.options("/api/orders/00000000-0000-4000-8000-000000000000", headers=preflight)
    assert response.status_code == 200, response.text
    assert "DELETE" in response.headers["access-control-allow-methods"]
