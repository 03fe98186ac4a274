"""`GET /api/market/{pair}/prices` on the real stack: both venues' spot prices, sampled by the api once a
second from the pairs of the `pools` table."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal
from typing import Any

import httpx
import pytest

from orders_shared.db import Database
from orders_shared.repository import seed_pools
from tests.conftest import StackFactory
from tests.support.services import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]


async def _points(client: httpx.AsyncClient, pair: str, at_least: int, within: float = 15) -> dict[str, Any]:
    """The pair's prices once the api has sampled ``at_least`` points of them.

    The sampler announces nothing: asking again is the only way to see a pass, not a sleep for an event.
    """
    try:
        async with asyncio.timeout(within):
            while True:
                response = await client.get(f"/api/market/{pair}/prices")
                assert response.status_code == 200, response.text
                body: dict[str, Any] = response.json()
                if len(body["points"]) >= at_least:
                    return body
                await asyncio.sleep(0.1)
    except TimeoutError:
        raise AssertionError(f"{pair}: fewer than {at_least} points within {within}s") from None


async def test_both_venues_prices_arrive_once_a_second(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.api) as client:
        body = await _points(client, "SOL-USDC", 3)
        quote = (await client.get("/api/quote?tokenIn=SOL&tokenOut=USDC&amountIn=0.01")).json()
    assert (body["pair"], body["base"], body["quote"]) == ("SOL/USDC", "SOL", "USDC")
    times = [p["t"] for p in body["points"]]
    assert times == sorted(set(times))
    assert time.time() - 300 <= times[0]
    for point in body["points"]:
        raydium, meteora = Decimal(point["raydium"]), Decimal(point["meteora"])
        assert raydium > 0
        assert meteora > 0
        # The venues follow one reference price, each within a few percent of it.
        assert abs(raydium - meteora) / raydium < Decimal("0.1")
    # A small order's average price is the spot price less the fee (at most 1%) and a sliver of impact.
    last = body["points"][-1]
    paid = Decimal(quote["expectedAmountOut"]) / Decimal("0.01")
    best = max(Decimal(last["raydium"]), Decimal(last["meteora"]))
    assert abs(paid - best) / best < Decimal("0.03")


async def test_seconds_narrows_the_window(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.api) as client:
        await _points(client, "JUP-SOL", 3)
        before = int(time.time())
        narrow = (await client.get("/api/market/jup-sol/prices?seconds=1")).json()
    assert narrow["pair"] == "JUP/SOL"
    assert len(narrow["points"]) <= 2
    assert all(p["t"] >= before - 1 for p in narrow["points"])


@pytest.mark.parametrize("pair", ["USDC-SOL", "SOL-XYZ"])
async def test_a_pair_without_pools_is_not_found(stack: Stack, pair: str) -> None:
    async with httpx.AsyncClient(base_url=stack.api) as client:
        response = await client.get(f"/api/market/{pair}/prices")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "SOL/USDC" in response.json()["detail"]


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/api/market/SOLUSDC/prices", "pair"),
        ("/api/market/SOL-USDC/prices?seconds=0", "seconds"),
        ("/api/market/SOL-USDC/prices?seconds=901", "seconds"),
        ("/api/market/SOL-USDC/prices?seconds=x", "seconds"),
    ],
)
async def test_bad_parameters_are_refused_naming_them(stack: Stack, path: str, field: str) -> None:
    async with httpx.AsyncClient(base_url=stack.api) as client:
        response = await client.get(path)
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == [field]


async def test_the_openapi_document_describes_the_answer(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.api) as client:
        document = (await client.get("/openapi.json")).json()
    operation = document["paths"]["/api/market/{pair}/prices"]["get"]
    ref = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    schema = document["components"]["schemas"][ref.rsplit("/", 1)[-1]]
    assert set(schema["properties"]) == {"pair", "base", "quote", "points"}
    assert "404" in operation["responses"]
    assert {p["name"] for p in operation["parameters"]} == {"pair", "seconds"}


async def test_a_pair_whose_pools_appear_at_run_time_is_sampled_from_then_on(
    make_stack: StackFactory,
) -> None:
    # An api alone on an empty database: no worker has seeded the pools yet.
    alone = await make_stack(("api",), own_database=True)
    async with httpx.AsyncClient(base_url=alone.api) as client:
        assert (await client.get("/api/market/SOL-USDC/prices")).status_code == 404
        database = Database(alone.env["DATABASE_URL"], size=1, application_name="orders-tests")
        async with database as db, db.connection() as conn:
            await seed_pools(conn)
        body = await _points(client, "SOL-USDC", 1)
    assert body["pair"] == "SOL/USDC"
