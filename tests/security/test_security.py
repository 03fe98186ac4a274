"""API keys, per-client isolation on REST and WebSocket, rate limits, caps and hostile input."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import httpx
import pytest
import websockets

from orders_shared.auth import split_key
from tests.security.conftest import KeyMaker, run_cli
from tests.support.services import Stack
from tests.support.streams import follow, next_frame, read_until_closed

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]

ORDER = {"tokenIn": "SOL", "tokenOut": "USDC", "amountIn": "0.5"}


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def _submit(stack: Stack, key: str) -> str:
    async with httpx.AsyncClient(base_url=stack.api) as client:
        response = await client.post("/api/orders/execute", json=ORDER, headers=_auth(key))
    assert response.status_code == 202, response.text
    order_id: str = response.json()["orderId"]
    return order_id


def _assert_401(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer oek_000000000000_not-a-real-secret"},
        {"Authorization": "Bearer garbage"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"X-API-Key": "oek_000000000000_nope"},
    ],
    ids=["no key", "unknown key", "malformed key", "wrong scheme", "unknown X-API-Key"],
)
async def test_missing_or_wrong_key_is_401_everywhere(secured: Stack, headers: dict[str, str]) -> None:
    async with httpx.AsyncClient(base_url=secured.api, headers=headers) as client:
        _assert_401(await client.post("/api/orders/execute", json=ORDER))
        _assert_401(await client.get(f"/api/orders/{uuid.uuid4()}"))
        _assert_401(await client.get("/api/orders"))
        _assert_401(await client.get("/api/quote", params={**ORDER}))
        _assert_401(await client.post("/api/orders/ws-ticket"))


async def test_revoked_key_is_refused(secured: Stack, make_key: KeyMaker) -> None:
    key_id, key = make_key("to revoke")
    assert "revoked" in run_cli(secured, "revoke", key_id)
    async with httpx.AsyncClient(base_url=secured.api, headers=_auth(key)) as client:
        _assert_401(await client.get("/api/orders"))
    listing = run_cli(secured, "list")
    assert key_id in listing
    assert key not in listing


async def test_key_works_as_bearer_or_x_api_key_and_is_shown_only_once(
    secured: Stack, make_key: KeyMaker
) -> None:
    _, key = make_key("both headers")
    async with httpx.AsyncClient(base_url=secured.api) as client:
        assert (await client.get("/api/orders", headers=_auth(key))).status_code == 200
        assert (await client.get("/api/orders", headers={"X-API-Key": key})).status_code == 200
    assert key.split("_")[-1] not in run_cli(secured, "list")


async def test_another_clients_order_does_not_exist_on_rest(secured: Stack, make_key: KeyMaker) -> None:
    _, alice = make_key("alice")
    _, bob = make_key("bob")
    order_id = await _submit(secured, alice)
    async with httpx.AsyncClient(base_url=secured.api) as client:
        mine = await client.get(f"/api/orders/{order_id}", headers=_auth(alice))
        theirs = await client.get(f"/api/orders/{order_id}", headers=_auth(bob))
        unknown = await client.get(f"/api/orders/{uuid.uuid4()}", headers=_auth(bob))
        bobs_list = (await client.get("/api/orders", headers=_auth(bob))).json()
    assert mine.status_code == 200
    assert theirs.status_code == unknown.status_code == 404
    assert theirs.json()["detail"] == unknown.json()["detail"]
    assert order_id not in {o["orderId"] for o in bobs_list["orders"]}


async def test_another_clients_order_cannot_be_cancelled(secured: Stack, make_key: KeyMaker) -> None:
    _, alice = make_key("alice limit")
    _, bob = make_key("bob limit")
    waiting = {**ORDER, "type": "limit", "limitPrice": "1000000"}
    async with httpx.AsyncClient(base_url=secured.api) as client:
        created = await client.post("/api/orders/execute", json=waiting, headers=_auth(alice))
        order_id = created.json()["orderId"]
        theirs = await client.delete(f"/api/orders/{order_id}", headers=_auth(bob))
        unknown = await client.delete(f"/api/orders/{uuid.uuid4()}", headers=_auth(bob))
        still = await client.get(f"/api/orders/{order_id}", headers=_auth(alice))
        mine = await client.delete(f"/api/orders/{order_id}", headers=_auth(alice))
    assert created.status_code == 202, created.text
    assert theirs.status_code == unknown.status_code == 404
    assert theirs.json()["detail"] == unknown.json()["detail"]
    assert still.json()["status"] == "open"
    assert mine.status_code == 200
    assert mine.json()["status"] == "cancelled"


async def test_keys_of_one_client_share_its_orders(secured: Stack, make_key: KeyMaker) -> None:
    first_id, first = make_key("desk")
    listing = run_cli(secured, "list")
    client = next(line.split()[1] for line in listing.splitlines() if line.startswith(first_id))
    _, second = make_key("desk, second key", client=client)
    order_id = await _submit(secured, first)
    async with httpx.AsyncClient(base_url=secured.api) as http:
        assert (await http.get(f"/api/orders/{order_id}", headers=_auth(second))).status_code == 200


async def test_websocket_authenticates_by_header_subprotocol_or_ticket(
    secured: Stack, make_key: KeyMaker
) -> None:
    _, alice = make_key("alice ws")
    order_id = await _submit(secured, alice)
    url = f"{secured.ws}/api/orders/ws?orderId={order_id}"
    async with websockets.connect(url, additional_headers=_auth(alice)) as ws:
        frames = await read_until_closed(ws)
    assert [f["status"] for f in frames][-1] == "confirmed"
    async with websockets.connect(url, subprotocols=["orders.v1", f"bearer.{alice}"]) as ws:  # type: ignore[list-item]
        assert ws.subprotocol == "orders.v1"
        frames = await read_until_closed(ws)
    assert frames[-1]["status"] == "confirmed"
    async with httpx.AsyncClient(base_url=secured.api) as client:
        ticket = (await client.post("/api/orders/ws-ticket", headers=_auth(alice))).json()
    assert ticket["expiresIn"] > 0
    frames, code = await follow(secured.ws, f"{order_id}&ticket={ticket['ticket']}")
    assert frames[-1]["status"] == "confirmed"
    assert code == 1000


@pytest.mark.parametrize("how", ["no credentials", "wrong key", "forged ticket", "another client"])
async def test_websocket_refuses_strangers_like_unknown_orders(
    secured: Stack, make_key: KeyMaker, how: str
) -> None:
    _, alice = make_key("owner")
    _, mallory = make_key("mallory")
    order_id = await _submit(secured, alice)
    headers: dict[str, str] = {}
    query = f"orderId={order_id}"
    if how == "wrong key":
        headers = _auth("oek_000000000000_wrong")
    elif how == "forged ticket":
        query += "&ticket=YW5vbnltb3VzLjk5OTk5OTk5OTk.forged"
    elif how == "another client":
        headers = _auth(mallory)
    async with websockets.connect(f"{secured.ws}/api/orders/ws?{query}", additional_headers=headers) as ws:
        frames = await read_until_closed(ws, within=10)
    assert frames[-1]["status"] == "error"
    assert ws.close_code == 1008
    assert not any("seq" in f for f in frames)


async def test_order_budget_gives_429_with_retry_after_and_ratelimit_headers(
    secured: Stack, make_key: KeyMaker
) -> None:
    _, key = make_key("bursty")
    async with httpx.AsyncClient(base_url=secured.api, headers=_auth(key)) as client:
        responses = [await client.post("/api/orders/execute", json=ORDER) for _ in range(8)]
    codes = [r.status_code for r in responses]
    assert codes[:5] == [202] * 5
    limited = responses[-1]
    assert limited.status_code == 429
    assert limited.headers["content-type"] == "application/problem+json"
    assert int(limited.headers["retry-after"]) >= 1
    assert limited.headers["ratelimit-limit"] == "5"
    assert limited.headers["ratelimit-remaining"] == "0"
    assert int(responses[0].headers["ratelimit-remaining"]) == 4


async def test_websocket_caps_sockets_subscriptions_and_messages(secured: Stack, make_key: KeyMaker) -> None:
    _, key = make_key("socket hog")
    url = f"{secured.ws}/api/orders/ws"
    sockets = [await websockets.connect(url, additional_headers=_auth(key)) for _ in range(3)]
    try:
        async with websockets.connect(url, additional_headers=_auth(key)) as extra:
            frames = await read_until_closed(extra, within=10)
        assert extra.close_code == 1013
        assert frames[-1]["status"] == "error"
        ws = sockets[0]
        await next_frame(ws)
        await ws.send(json.dumps({"action": "subscribe", "orderIds": [str(uuid.uuid4()) for _ in range(6)]}))
        errors: list[dict[str, Any]] = [await next_frame(ws) for _ in range(6)]
        assert sum("at most 4 orders" in e.get("error", "") for e in errors) == 2
        chatty = sockets[1]
        await next_frame(chatty)

        async def chatter() -> None:
            while True:
                await chatty.send("{}")
                await chatty.recv()

        with pytest.raises(websockets.ConnectionClosed):
            await asyncio.wait_for(chatter(), 10)
        assert chatty.close_code == 1008
    finally:
        for ws in sockets:
            await ws.close()


async def test_hostile_unknown_fields_are_refused_naming_the_field(
    secured: Stack, make_key: KeyMaker
) -> None:
    _, key = make_key("hostile")
    nested: Any = "x"
    for _ in range(10):
        nested = [nested]
    cases = [
        ({**ORDER, "deep": nested}, "deep"),
        ({**ORDER, "note": "x" * 1000}, "note"),
        ({**ORDER, **{f"f{i}": 1 for i in range(30)}}, "body"),
    ]
    async with httpx.AsyncClient(base_url=secured.api, headers=_auth(key)) as client:
        for body, field in cases:
            response = await client.post("/api/orders/execute", json=body)
            assert response.status_code == 422, response.text
            assert response.json()["errors"][0]["field"] == field


async def test_security_headers_and_closed_cors(secured: Stack, make_key: KeyMaker) -> None:
    _, key = make_key("headers")
    async with httpx.AsyncClient(base_url=secured.api) as client:
        response = await client.get("/api/orders", headers={**_auth(key), "Origin": "https://evil.example"})
        preflight = await client.options(
            "/api/orders/execute",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
        )
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["cache-control"] == "no-store"
    assert "content-security-policy" in response.headers
    assert "access-control-allow-origin" not in response.headers
    assert "access-control-allow-origin" not in preflight.headers


async def test_no_key_ever_reaches_a_log_line(secured: Stack, make_key: KeyMaker) -> None:
    _, key = make_key("logged?")
    # The whole secret: it is URL-safe base64 and may itself hold "_" (the part after the last one can be
    # a character or two, or empty, which any log contains).
    parts = split_key(key)
    assert parts is not None
    secret = parts[1]
    order_id = await _submit(secured, key)
    async with websockets.connect(
        f"{secured.ws}/api/orders/ws?orderId={order_id}", additional_headers=_auth(key)
    ) as ws:
        await read_until_closed(ws)
    async with httpx.AsyncClient(base_url=secured.api) as client:
        await client.get("/api/orders", headers={"Authorization": f"Bearer {key}x"})
    for service in secured.services.values():
        log = service.log()
        assert secret not in log, service.name
        assert "oek_" not in log, service.name
