"""The lean order route (orders_api.intake) against the OpenAPI document FastAPI writes for it.

FastAPI documents `POST /api/orders/execute` from its declaration in routes.py; intake.execute serves it.
These tests read the document the running api publishes and hold the handler to it.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.conftest import StackFactory
from tests.support.services import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]

BODY = {"tokenIn": "SOL", "tokenOut": "USDC", "amountIn": "0.1", "type": "market"}


async def _document(client: httpx.AsyncClient) -> tuple[dict[str, Any], dict[str, Any]]:
    document = (await client.get("/openapi.json")).json()
    return document, document["paths"]["/api/orders/execute"]["post"]


def _schema(document: dict[str, Any], ref: str) -> dict[str, Any]:
    schema: dict[str, Any] = document["components"]["schemas"][ref.rsplit("/", 1)[-1]]
    return schema


async def test_accepted_answers_are_the_documented_shape(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.api) as client:
        document, operation = await _document(client)
        fresh = await client.post("/api/orders/execute", json={**BODY, "memo": "x"})
        key = {"Idempotency-Key": str(uuid.uuid4())}
        first = await client.post("/api/orders/execute", json=BODY, headers=key)
        replay = await client.post("/api/orders/execute", json=BODY, headers=key)
    for response, status in ((fresh, 202), (first, 202), (replay, 200)):
        assert response.status_code == status, response.text
        assert str(status) in operation["responses"]
        content = operation["responses"][str(status)]["content"]
        assert response.headers["content-type"] in content
        accepted = _schema(document, content["application/json"]["schema"]["$ref"])
        body = response.json()
        assert set(body) == set(accepted["properties"])
        assert set(accepted["required"]) <= set(body)
        uuid.UUID(body["orderId"])
        assert response.headers["RateLimit-Limit"]
    assert fresh.json()["ignoredFields"] == ["memo"]
    assert replay.json() == first.json()


async def test_every_required_field_is_required(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.api) as client:
        document, operation = await _document(client)
        request = _schema(document, operation["requestBody"]["content"]["application/json"]["schema"]["$ref"])
        assert operation["requestBody"]["required"] is True
        assert set(request["required"]) == {"tokenIn", "tokenOut", "amountIn"}
        for field in request["required"]:
            response = await client.post(
                "/api/orders/execute", json={k: v for k, v in BODY.items() if k != field}
            )
            assert response.status_code == 422
            assert [e["field"] for e in response.json()["errors"]] == [field]
        for body, status in ((b"", 422), (b"[]", 422), (b'{"tokenIn":', 400)):
            response = await client.post(
                "/api/orders/execute", content=body, headers={"content-type": "application/json"}
            )
            assert response.status_code == status, (body, response.text)
            assert str(status) in operation["responses"]
            assert response.headers["content-type"] == "application/problem+json"


async def test_the_idempotency_key_limits_are_the_documented_ones(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.api) as client:
        _, operation = await _document(client)
        (header,) = [p for p in operation["parameters"] if p["name"] == "idempotency-key"]
        assert header["in"] == "header"
        longest, shortest = (
            header["schema"]["anyOf"][0]["maxLength"],
            header["schema"]["anyOf"][0]["minLength"],
        )
        at_limit = await client.post(
            "/api/orders/execute", json=BODY, headers={"Idempotency-Key": "k" * longest}
        )
        past = await client.post(
            "/api/orders/execute", json=BODY, headers={"Idempotency-Key": "k" * (longest + 1)}
        )
    assert shortest == 1
    assert at_limit.status_code == 202
    assert past.status_code == 422
    assert past.json()["errors"][0]["field"] == "idempotency-key"


async def test_a_body_that_is_not_json_is_refused_as_the_other_routes_refuse(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.api) as client:
        response = await client.post(
            "/api/orders/execute", content=b"tokenIn=SOL", headers={"content-type": "text/plain"}
        )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body"


async def test_answers_on_the_lean_path_carry_the_security_headers(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.api) as client:
        accepted = await client.post("/api/orders/execute", json=BODY)
        refused = await client.post("/api/orders/execute", json={**BODY, "amountIn": "-1"})
        too_large = await client.post("/api/orders/execute", content=b"x" * 100_000)
    assert [r.status_code for r in (accepted, refused, too_large)] == [202, 422, 413]
    for response in (accepted, refused, too_large):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["cache-control"] == "no-store"


async def test_with_cors_on_the_route_answers_allowed_origins(make_stack_module: StackFactory) -> None:
    cors = await make_stack_module(own_database=True, CORS_ALLOW_ORIGINS="https://desk.example")
    async with httpx.AsyncClient(base_url=cors.api) as client:
        allowed = await client.post(
            "/api/orders/execute", json=BODY, headers={"Origin": "https://desk.example"}
        )
        other = await client.post(
            "/api/orders/execute", json=BODY, headers={"Origin": "https://evil.example"}
        )
    assert allowed.status_code == other.status_code == 202
    assert allowed.headers["access-control-allow-origin"] == "https://desk.example"
    assert "access-control-allow-origin" not in other.headers
    assert allowed.headers["x-content-type-options"] == "nosniff"
