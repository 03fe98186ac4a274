"""Idempotency-Key: a client's retry returns the first order instead of trading twice."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest

from tests.support.services import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]

BODY = {"tokenIn": "SOL", "tokenOut": "USDC", "amountIn": "2", "type": "market", "memo": "x"}


async def test_same_key_same_body_returns_the_first_order(stack: Stack) -> None:
    headers = {"Idempotency-Key": f"retry-{uuid.uuid4()}"}
    async with httpx.AsyncClient(base_url=stack.api) as client:
        first = await client.post("/api/orders/execute", json=BODY, headers=headers)
        # Same body, other key order and spacing: still the same request.
        again = await client.post(
            "/api/orders/execute",
            content=b'{"memo":"x", "type":"market","amountIn":"2","tokenOut":"USDC","tokenIn":"SOL"}',
            headers={**headers, "content-type": "application/json"},
        )
    assert first.status_code == 202
    assert again.status_code == 200
    assert again.json() == first.json()
    assert first.json()["ignoredFields"] == ["memo"]


async def test_same_key_different_body_is_409(stack: Stack) -> None:
    headers = {"Idempotency-Key": f"retry-{uuid.uuid4()}"}
    async with httpx.AsyncClient(base_url=stack.api) as client:
        first = await client.post("/api/orders/execute", json=BODY, headers=headers)
        other = await client.post("/api/orders/execute", json={**BODY, "amountIn": "3"}, headers=headers)
    assert first.status_code == 202
    assert other.status_code == 409
    assert other.headers["content-type"] == "application/problem+json"
    assert other.json()["errors"][0]["field"] == "Idempotency-Key"


async def test_concurrent_duplicates_create_one_order(stack: Stack) -> None:
    headers = {"Idempotency-Key": f"race-{uuid.uuid4()}"}
    async with httpx.AsyncClient(base_url=stack.api) as client:
        responses = await asyncio.gather(
            *(client.post("/api/orders/execute", json=BODY, headers=headers) for _ in range(20))
        )
    assert sorted(r.status_code for r in responses) == [200] * 19 + [202]
    assert len({r.json()["orderId"] for r in responses}) == 1


async def test_keys_are_per_request_not_global_and_absent_key_never_dedupes(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.api) as client:
        plain = [await client.post("/api/orders/execute", json=BODY) for _ in range(2)]
        keyed = [
            await client.post(
                "/api/orders/execute", json=BODY, headers={"Idempotency-Key": str(uuid.uuid4())}
            )
            for _ in range(2)
        ]
    assert len({r.json()["orderId"] for r in plain + keyed}) == 4


@pytest.mark.parametrize("key", ["", "k" * 201])
async def test_bad_idempotency_key_is_422(stack: Stack, key: str) -> None:
    async with httpx.AsyncClient(base_url=stack.api) as client:
        response = await client.post("/api/orders/execute", json=BODY, headers={"Idempotency-Key": key})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "idempotency-key"
