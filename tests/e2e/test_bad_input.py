"""Every bad request gets a 4xx problem+json naming the field, and writes nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from orders_shared.models import orders_table
from orders_venues.tokens import SOL, USDC
from tests.support.services import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]

GOOD = {"tokenIn": "SOL", "tokenOut": "USDC", "amountIn": "1.5", "type": "market"}


def _without(field: str) -> dict[str, Any]:
    return {k: v for k, v in GOOD.items() if k != field}


CASES: list[tuple[str, dict[str, Any], str, int]] = [
    ("missing tokenIn", _without("tokenIn"), "tokenIn", 422),
    ("missing tokenOut", _without("tokenOut"), "tokenOut", 422),
    ("missing amountIn", _without("amountIn"), "amountIn", 422),
    ("amount zero", {**GOOD, "amountIn": 0}, "amountIn", 422),
    ("amount negative", {**GOOD, "amountIn": "-1"}, "amountIn", 422),
    ("amount not numeric", {**GOOD, "amountIn": "lots"}, "amountIn", 422),
    ("amount NaN", {**GOOD, "amountIn": "NaN"}, "amountIn", 422),
    ("amount infinite", {**GOOD, "amountIn": "Infinity"}, "amountIn", 422),
    ("amount boolean", {**GOOD, "amountIn": True}, "amountIn", 422),
    ("amount absurdly large", {**GOOD, "amountIn": "1e40"}, "amountIn", 422),
    ("amount beyond u64", {**GOOD, "amountIn": "18446744074"}, "amountIn", 422),
    ("too many decimals for SOL", {**GOOD, "amountIn": "0.0000000001"}, "amountIn", 422),
    (
        "too many decimals for USDC",
        {**GOOD, "tokenIn": "USDC", "tokenOut": "SOL", "amountIn": "1.0000001"},
        "amountIn",
        422,
    ),
    ("same token", {**GOOD, "tokenOut": "SOL"}, "tokenOut", 422),
    ("same token by mint", {**GOOD, "tokenIn": SOL.mint, "tokenOut": "sol"}, "tokenOut", 422),
    ("unknown tokenIn", {**GOOD, "tokenIn": "DOGE"}, "tokenIn", 422),
    ("unknown tokenOut", {**GOOD, "tokenOut": "So1111"}, "tokenOut", 422),
    ("sniper order for a pair that trades", {**GOOD, "type": "sniper"}, "tokenOut", 422),
    ("limit order without limitPrice", {**GOOD, "type": "limit"}, "limitPrice", 422),
    ("limitPrice zero", {**GOOD, "type": "limit", "limitPrice": "0"}, "limitPrice", 422),
    ("limitPrice negative", {**GOOD, "type": "limit", "limitPrice": "-150"}, "limitPrice", 422),
    ("limitPrice not numeric", {**GOOD, "type": "limit", "limitPrice": "cheap"}, "limitPrice", 422),
    ("limitPrice absurdly large", {**GOOD, "type": "limit", "limitPrice": "1e40"}, "limitPrice", 422),
    ("limitPrice on a market order", {**GOOD, "limitPrice": "150"}, "limitPrice", 422),
    (
        "expiresAt in the past",
        {**GOOD, "type": "limit", "limitPrice": "150", "expiresAt": "2020-01-01T00:00:00Z"},
        "expiresAt",
        422,
    ),
    (
        "expiresAt beyond 30 days",
        {**GOOD, "type": "limit", "limitPrice": "150", "expiresAt": "2099-01-01T00:00:00Z"},
        "expiresAt",
        422,
    ),
    (
        "expiresAt without a zone",
        {**GOOD, "type": "limit", "limitPrice": "150", "expiresAt": "2099-01-01T00:00:00"},
        "expiresAt",
        422,
    ),
    (
        "expiresAt not a time",
        {**GOOD, "type": "limit", "limitPrice": "150", "expiresAt": "tomorrow"},
        "expiresAt",
        422,
    ),
    ("expiresAt on a market order", {**GOOD, "expiresAt": "2099-01-01T00:00:00Z"}, "expiresAt", 422),
    ("type not a string", {**GOOD, "type": 1}, "type", 422),
    ("slippage negative", {**GOOD, "slippageBps": -1}, "slippageBps", 422),
    ("slippage above 10000", {**GOOD, "slippageBps": 10_001}, "slippageBps", 422),
    ("slippage fractional", {**GOOD, "slippageBps": 1.5}, "slippageBps", 422),
    ("slippage as text", {**GOOD, "slippageBps": "50"}, "slippageBps", 422),
    ("list for tokenIn", {**GOOD, "tokenIn": ["SOL"]}, "tokenIn", 422),
    ("object for tokenOut", {**GOOD, "tokenOut": {"symbol": "USDC"}}, "tokenOut", 422),
    ("list for amountIn", {**GOOD, "amountIn": [1]}, "amountIn", 422),
    ("null tokenIn", {**GOOD, "tokenIn": None}, "tokenIn", 422),
]


@pytest_asyncio.fixture(loop_scope="session")
async def order_count(engine: AsyncEngine) -> AsyncIterator[Any]:
    async def count() -> int:
        async with engine.connect() as conn:
            return int(
                (await conn.execute(sa.select(sa.func.count()).select_from(orders_table))).scalar_one()
            )

    yield count


def _assert_problem(response: httpx.Response, status: int, field: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == status
    assert problem["title"]
    assert field in problem["detail"]
    if status == 422 or status == 400:
        assert field in {e["field"] for e in problem["errors"]}


@pytest.mark.parametrize(("name", "body", "field", "status"), CASES, ids=[c[0] for c in CASES])
async def test_bad_order_is_refused_naming_the_field(
    stack: Stack, order_count: Any, name: str, body: dict[str, Any], field: str, status: int
) -> None:
    before = await order_count()
    async with httpx.AsyncClient(base_url=stack.api) as client:
        response = await client.post("/api/orders/execute", json=body)
    _assert_problem(response, status, field)
    assert await order_count() == before


@pytest.mark.parametrize(
    ("content", "field"),
    [(b"{not json", "body"), (b"", "body"), (b'["SOL", "USDC", 1]', "body"), (b'"SOL"', "body")],
    ids=["broken JSON", "empty body", "array body", "string body"],
)
async def test_body_that_is_not_a_json_object_is_refused(
    stack: Stack, order_count: Any, content: bytes, field: str
) -> None:
    before = await order_count()
    async with httpx.AsyncClient(base_url=stack.api) as client:
        response = await client.post(
            "/api/orders/execute", content=content, headers={"content-type": "application/json"}
        )
    assert response.status_code in (400, 422), response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert field in {e["field"] for e in response.json()["errors"]}
    assert await order_count() == before


async def _chunks() -> AsyncIterator[bytes]:
    for _ in range(100):
        yield b"x" * 1024


async def test_oversized_body_is_413_before_parsing(stack: Stack, order_count: Any) -> None:
    before = await order_count()
    padded = {**GOOD, "padding": "x" * 100_000}
    async with httpx.AsyncClient(base_url=stack.api) as client:
        response = await client.post("/api/orders/execute", json=padded)
        streamed = await client.post(
            "/api/orders/execute",
            content=_chunks(),
            headers={"content-type": "application/json"},
        )
    for r in (response, streamed):
        assert r.status_code == 413
        assert r.headers["content-type"] == "application/problem+json"
    assert await order_count() == before


async def _ignored_fields_counted(client: httpx.AsyncClient) -> float:
    text = (await client.get("/metrics")).text
    return next(
        float(line.split()[1]) for line in text.splitlines() if line.startswith("order_ignored_fields_total")
    )


async def test_seed_clients_keep_working(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.api) as client:
        counted_before = await _ignored_fields_counted(client)
        # The seed's README body: amount as a JSON number, and type given.
        seed = await client.post(
            "/api/orders/execute",
            json={"tokenIn": "SOL", "tokenOut": "USDC", "amountIn": 0.1, "type": "market"},
        )
        no_type = await client.post(
            "/api/orders/execute", json={"tokenIn": USDC.mint, "tokenOut": "sol", "amountIn": "5"}
        )
        extra = await client.post("/api/orders/execute", json={**GOOD, "slipageBps": 10, "clientTag": "x"})
    assert seed.status_code == no_type.status_code == extra.status_code == 202
    assert seed.json()["ignoredFields"] == []
    assert extra.json()["ignoredFields"] == ["clientTag", "slipageBps"]
    async with httpx.AsyncClient(base_url=stack.api) as client:
        order = (await client.get(f"/api/orders/{seed.json()['orderId']}")).json()
        assert order["amountIn"] == "0.1"
        assert (order["tokenIn"], order["tokenOut"]) == ("SOL", "USDC")
        other = (await client.get(f"/api/orders/{no_type.json()['orderId']}")).json()
        assert (other["tokenIn"], other["tokenOut"], other["type"]) == ("USDC", "SOL", "market")
        assert await _ignored_fields_counted(client) == counted_before + 2


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "lost"}, "status"),
        ({"limit": 0}, "limit"),
        ({"limit": 201}, "limit"),
        ({"cursor": "garbage"}, "cursor"),
    ],
)
async def test_bad_list_query_is_422_naming_the_parameter(
    stack: Stack, params: dict[str, Any], field: str
) -> None:
    async with httpx.AsyncClient(base_url=stack.api) as client:
        response = await client.get("/api/orders", params=params)
    _assert_problem(response, 422, field)


async def test_malformed_order_id_is_422(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.api) as client:
        response = await client.get("/api/orders/not-a-uuid")
    _assert_problem(response, 422, "order_id")
