"""An order really flows through api → RabbitMQ → worker → Postgres → notifier → WebSocket."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import httpx
import pytest
import websockets

from tests.support.services import Stack
from tests.support.streams import follow, next_frame, read_until_closed

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]

LIFECYCLE = ["pending", "routing", "building", "submitted", "confirmed"]


async def _submit(client: httpx.AsyncClient, **fields: Any) -> str:
    body = {"tokenIn": "SOL", "tokenOut": "USDC", "amountIn": "1.5", "type": "market", **fields}
    response = await client.post("/api/orders/execute", json=body)
    assert response.status_code == 202, response.text
    order_id: str = response.json()["orderId"]
    return order_id


async def test_five_concurrent_orders_each_stream_the_whole_lifecycle(stack: Stack) -> None:
    pairs = [
        ("SOL", "USDC", "1.5"),
        ("USDC", "SOL", "250"),
        ("SOL", "USDT", "0.25"),
        ("USDT", "USDC", "99.5"),
        ("USDC", "USDT", "10"),
    ]
    async with httpx.AsyncClient(base_url=stack.api) as client:
        ids = await asyncio.gather(
            *(_submit(client, tokenIn=a, tokenOut=b, amountIn=amount) for a, b, amount in pairs)
        )
        results = await asyncio.gather(*(follow(stack.ws, order_id) for order_id in ids))
        for order_id, (frames, code) in zip(ids, results, strict=True):
            assert frames[0] == {"status": "ws_connected", "orderId": order_id}
            events = frames[1:]
            assert [e["status"] for e in events] == LIFECYCLE, events[-1]
            assert [e["seq"] for e in events] == [1, 2, 3, 4, 5]
            assert {e["orderId"] for e in events} == {order_id}
            assert code == 1000
            detail = (await client.get(f"/api/orders/{order_id}")).json()
            assert detail["status"] == "confirmed"
            assert detail["events"] == events
            confirmed = events[-1]
            assert detail["txHash"] == confirmed["txHash"] == events[3]["txHash"]
            assert detail["amountOut"] == confirmed["amountOut"]
            assert detail["dexChosen"] == events[2]["dexChosen"]


async def test_late_subscriber_gets_the_full_history_then_close(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.api) as client:
        order_id = await _submit(client)
        first, _ = await follow(stack.ws, order_id)
        late, code = await follow(stack.ws, order_id)
    assert late == first
    assert [e["status"] for e in late[1:]] == LIFECYCLE
    assert code == 1000


async def test_after_seq_resumes_exactly_where_the_client_left(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.api) as client:
        order_id = await _submit(client)
        full, _ = await follow(stack.ws, order_id)
    resumed, code = await follow(stack.ws, order_id, after_seq=3)
    assert resumed[0]["status"] == "ws_connected"
    assert resumed[1:] == full[4:]
    assert [e["seq"] for e in resumed[1:]] == [4, 5]
    assert code == 1000


async def test_one_socket_follows_many_orders(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.api) as client:
        ids = [await _submit(client) for _ in range(3)]
    async with websockets.connect(f"{stack.ws}/api/orders/ws") as ws:
        assert await next_frame(ws) == {"status": "ws_connected"}
        await ws.send(json.dumps({"action": "subscribe", "orderIds": ids}))
        seen: dict[str, list[int]] = {i: [] for i in ids}
        async with asyncio.timeout(30):
            while any(len(s) < 5 for s in seen.values()):
                frame = await next_frame(ws)
                seen[frame["orderId"]].append(frame["seq"])
    assert all(seqs == [1, 2, 3, 4, 5] for seqs in seen.values())


async def test_malformed_client_message_gets_an_error_and_the_socket_stays(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.api) as client:
        order_id = await _submit(client)
    async with websockets.connect(f"{stack.ws}/api/orders/ws") as ws:
        await next_frame(ws)
        await ws.send("not json")
        error = await next_frame(ws)
        assert error["status"] == "error"
        await ws.send(json.dumps({"action": "subscribe", "orderIds": [order_id]}))
        frame = await next_frame(ws)
        assert (frame["orderId"], frame["seq"]) == (order_id, 1)


async def test_a_binary_frame_gets_an_error_and_the_socket_stays(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.api) as client:
        order_id = await _submit(client)
    async with websockets.connect(f"{stack.ws}/api/orders/ws") as ws:
        await next_frame(ws)
        await ws.send(json.dumps({"action": "subscribe", "orderIds": [order_id]}).encode())
        error = await next_frame(ws)
        assert error["status"] == "error"
        assert "text" in error["error"]
        await ws.send(json.dumps({"action": "subscribe", "orderIds": [order_id]}))
        frame = await next_frame(ws)
        assert (frame["orderId"], frame["seq"]) == (order_id, 1)


@pytest.mark.parametrize(
    "query",
    [
        f"orderId={uuid.uuid4()}",
        "orderId=not-a-uuid",
        "orderId=&afterSeq=1",
        f"orderId={uuid.uuid4()}&afterSeq=-1",
    ],
)
async def test_unknown_or_malformed_order_gets_error_and_1008(stack: Stack, query: str) -> None:
    async with websockets.connect(f"{stack.ws}/api/orders/ws?{query}") as ws:
        frames = await read_until_closed(ws, within=10)
    assert frames[-1]["status"] == "error"
    assert ws.close_code == 1008


async def test_get_and_list_agree_with_the_stream(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.api) as client:
        ids = [await _submit(client, amountIn=f"0.{n + 1}") for n in range(3)]
        for order_id in ids:
            await follow(stack.ws, order_id)
        page = (await client.get("/api/orders", params={"limit": 2})).json()
        assert len(page["orders"]) == 2
        assert page["nextCursor"]
        newest = [o["orderId"] for o in page["orders"]]
        assert newest == ids[::-1][:2]
        following = (
            await client.get("/api/orders", params={"limit": 1, "cursor": page["nextCursor"]})
        ).json()
        assert following["orders"][0]["orderId"] == ids[0]
        confirmed = (await client.get("/api/orders", params={"status": "confirmed", "limit": 200})).json()
        assert set(ids) <= {o["orderId"] for o in confirmed["orders"]}
        assert all(o["status"] == "confirmed" for o in confirmed["orders"])
        pending = (await client.get("/api/orders", params={"status": "pending"})).json()
        assert not set(ids) & {o["orderId"] for o in pending["orders"]}


async def test_unknown_order_is_404_problem(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.api) as client:
        response = await client.get(f"/api/orders/{uuid.uuid4()}")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


async def test_every_service_answers_health_readiness_and_metrics(stack: Stack) -> None:
    async with httpx.AsyncClient() as client:
        for base in (stack.api, stack.worker, stack.services["notifier"].url):
            assert (await client.get(f"{base}/healthz")).status_code == 200
            ready = await client.get(f"{base}/readyz")
            assert ready.json() == {"database": "ok", "rabbitmq": "ok"}
            metrics = (await client.get(f"{base}/metrics")).text
            assert "orders_accepted_total" in metrics
        worker_metrics = (await client.get(f"{stack.worker}/metrics")).text
        assert 'order_transitions_total{status="confirmed"}' in worker_metrics


async def test_openapi_is_served(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.api) as client:
        spec = (await client.get("/openapi.json")).json()
        assert "/api/orders/execute" in spec["paths"]
        assert (await client.get("/docs")).status_code == 200
