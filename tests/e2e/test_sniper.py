"""Launches and sniper orders on the real stack: `orders-admin launch` announces a token on RabbitMQ, its
snipers land in submission order at rising prices in the launch's first turn, a market order for the new
pair is refused until the pool opens and accepted after; launching takes an admin key."""

from __future__ import annotations

import asyncio
import os
import subprocess
from decimal import Decimal
from typing import Any

import httpx
import pytest
import pytest_asyncio

from orders_venues.tokens import b58encode
from tests.conftest import StackFactory
from tests.support.services import BIN, Stack
from tests.support.streams import follow

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]

SNIPED = ["pending", "open", "routing", "building", "submitted", "confirmed"]


def _admin(stack: Stack, *args: str) -> str:
    """`orders-admin …` against the stack's database and vhost; its output."""
    env = {**os.environ, "DATABASE_URL": stack.env["DATABASE_URL"], "AMQP_URL": stack.env["AMQP_URL"]}
    result = subprocess.run(
        [str(BIN / "orders-admin"), *args], env=env, capture_output=True, text=True, timeout=60, check=True
    )
    return result.stdout


async def _order(client: httpx.AsyncClient, **body: Any) -> httpx.Response:
    return await client.post("/api/orders/execute", json={"tokenIn": "SOL", "amountIn": "10", **body})


def _statuses(frames: list[dict[str, Any]]) -> list[str]:
    return [f["status"] for f in frames if f["status"] != "ws_connected"]


async def test_snipers_land_in_submission_order_and_the_new_pair_trades_once_open(stack: Stack) -> None:
    out = _admin(stack, "launch", "SNIPEA", "--decimals", "6", "--price", "0.0001", "--liquidity", "500",
                 "--in", "6s")  # fmt: skip
    assert "launched SNIPEA" in out
    async with httpx.AsyncClient(base_url=stack.api) as client:
        launches = (await client.get("/api/market/launches")).json()["launches"]
        launched = next(entry for entry in launches if entry["symbol"] == "SNIPEA")
        assert (launched["pair"], launched["status"], launched["price"]) == (
            "SNIPEA/SOL",
            "scheduled",
            "0.0001",
        )
        early = await _order(client, tokenOut="SNIPEA")
        assert early.status_code == 422, early.text
        assert early.json()["errors"][0]["field"] == "tokenOut"
        ids = []
        # By symbol and by mint, in this order: the order they land in.
        for token_out in ("SNIPEA", launched["mint"], "SNIPEA"):
            response = await _order(client, type="sniper", tokenOut=token_out, slippageBps=5000)
            assert response.status_code == 202, response.text
            ids.append(response.json()["orderId"])
        followed = await asyncio.gather(*(follow(stack.ws, order_id, within=30) for order_id in ids))
        details = [(await client.get(f"/api/orders/{order_id}")).json() for order_id in ids]
        for frames, code in followed:
            assert _statuses(frames) == SNIPED
            assert code == 1000
        # Each swap moves the pool: fewer tokens per SOL for each later sniper.
        prices = [Decimal(detail["executedPrice"]) for detail in details]
        assert prices[0] > prices[1] > prices[2]
        assert prices[0] < Decimal(1) / Decimal("0.0001")
        # The pool trades now: a sniper for it is refused, a market order accepted and filled.
        late = await _order(client, type="sniper", tokenOut="SNIPEA")
        assert late.status_code == 422, late.text
        assert late.json()["errors"][0]["field"] == "tokenOut"
        market = await _order(client, tokenOut="SNIPEA", amountIn="1")
        assert market.status_code == 202, market.text
        frames, _ = await follow(stack.ws, market.json()["orderId"])
        assert _statuses(frames)[-1] == "confirmed"
        after = (await client.get("/api/market/launches")).json()["launches"]
    assert next(e for e in after if e["symbol"] == "SNIPEA")["status"] == "open"
    # The api and the worker heard of the launch on RabbitMQ (market.launch), not only from Postgres.
    assert "token_launch_learnt" in stack.services["api"].log()
    assert "token_launch_learnt" in stack.services["worker"].log()


async def test_a_sniper_for_a_pair_that_already_trades_is_refused_naming_token_out(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.api) as client:
        response = await _order(client, type="sniper", tokenOut="USDC", amountIn="1")
        unknown = await _order(client, type="sniper", tokenOut="NOTAMINT", amountIn="1")
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["errors"][0]["field"] == "tokenOut"
    assert "already trades" in response.json()["detail"]
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["field"] == "tokenOut"


@pytest_asyncio.fixture(scope="module")
async def secured(make_stack_module: StackFactory) -> Stack:
    """An api with API keys required, on a database of its own."""
    return await make_stack_module(("api",), own_database=True, AUTH_REQUIRED="true")


def _key(stack: Stack, *args: str) -> str:
    env = {**os.environ, "DATABASE_URL": stack.env["DATABASE_URL"]}
    out = subprocess.run(
        [str(BIN / "orders-api-key"), "create", *args], env=env, capture_output=True, text=True, check=True
    ).stdout
    return next(line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("key:"))


async def test_launching_takes_an_admin_key(secured: Stack) -> None:
    body = {"symbol": "ADMINA", "decimals": 6, "quote": "SOL", "price": "0.001", "liquidity": "100"}
    user, admin = _key(secured, "user"), _key(secured, "operator", "--admin")
    async with httpx.AsyncClient(base_url=secured.api) as client:
        refused = await client.post("/api/admin/launches", json=body, headers={"X-API-Key": user})
        anonymous = await client.post("/api/admin/launches", json=body)
        created = await client.post("/api/admin/launches", json=body, headers={"X-API-Key": admin})
        again = await client.post("/api/admin/launches", json=body, headers={"X-API-Key": admin})
        listed = await client.get("/api/market/launches", headers={"X-API-Key": user})
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert anonymous.status_code == 401
    assert created.status_code == 201, created.text
    launch = created.json()
    assert (launch["symbol"], launch["pair"], launch["decimals"], launch["status"]) == (
        "ADMINA", "ADMINA/SOL", 6, "open",
    )  # fmt: skip
    assert (launch["price"], launch["liquidity"]) == ("0.001", "100")
    assert again.status_code == 409
    assert [e["symbol"] for e in listed.json()["launches"]] == ["ADMINA"]


async def test_a_limit_order_on_a_launched_pair_fires_once_the_pool_pays(stack: Stack) -> None:
    _admin(stack, "launch", "LIMITB", "--decimals", "6", "--price", "0.0001", "--liquidity", "500")
    async with httpx.AsyncClient(base_url=stack.api) as client:
        # The pool opened at 10,000 LIMITB per SOL: half that is paid at once, twice that never.
        filled = await _order(client, type="limit", tokenOut="LIMITB", amountIn="1", limitPrice="5000")
        waiting = await _order(client, type="limit", tokenOut="LIMITB", amountIn="1", limitPrice="20000")
        assert filled.status_code == 202, filled.text
        assert waiting.status_code == 202, waiting.text
        frames, _ = await follow(stack.ws, filled.json()["orderId"], within=30)
        assert _statuses(frames)[-1] == "confirmed"
        detail = (await client.get(f"/api/orders/{filled.json()['orderId']}")).json()
        assert Decimal(detail["executedPrice"]) >= Decimal(5000)
        open_one = (await client.get(f"/api/orders/{waiting.json()['orderId']}")).json()
        assert open_one["status"] == "open"
        assert Decimal(open_one["currentPrice"]) < Decimal(20000)
        cancelled = await client.delete(f"/api/orders/{waiting.json()['orderId']}")
    assert cancelled.json()["status"] == "cancelled"


async def test_a_sniper_for_a_mint_not_launched_yet_fires_when_that_mint_launches(stack: Stack) -> None:
    mint = b58encode(os.urandom(32))
    async with httpx.AsyncClient(base_url=stack.api) as client:
        waiting = await _order(client, type="sniper", tokenOut=mint, amountIn="1", slippageBps=5000)
        assert waiting.status_code == 202, waiting.text
        order_id = waiting.json()["orderId"]
        detail = (await client.get(f"/api/orders/{order_id}")).json()
        assert (detail["status"], detail["tokenOut"]) == ("open", mint)
        out = _admin(stack, "launch", "SNIPEM", "--decimals", "6", "--price", "0.0001", "--liquidity", "500",
                     "--mint", mint, "--in", "2s")  # fmt: skip
        assert "launched SNIPEM" in out
        frames, code = await follow(stack.ws, order_id, within=30)
        assert (_statuses(frames), code) == (SNIPED, 1000)
        filled = (await client.get(f"/api/orders/{order_id}")).json()
    assert Decimal(filled["amountOut"]) > 0
