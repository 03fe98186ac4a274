"""Each fault test gets its own RabbitMQ vhost and its own service processes, to kill as it likes."""

from __future__ import annotations

import asyncio
import uuid

import httpx

from tests.support.streams import follow


async def submit(api: str, count: int, **fields: str) -> list[uuid.UUID]:
    """Submit ``count`` orders concurrently; every one must be accepted."""
    body = {"tokenIn": "SOL", "tokenOut": "USDC", "amountIn": "0.5", **fields}
    async with httpx.AsyncClient(base_url=api, timeout=10) as client:
        responses = await asyncio.gather(
            *(client.post("/api/orders/execute", json=body) for _ in range(count))
        )
    assert all(r.status_code == 202 for r in responses), [r.text for r in responses if r.status_code != 202]
    return [uuid.UUID(r.json()["orderId"]) for r in responses]


async def wait_all_terminal(
    ws_base: str, order_ids: list[uuid.UUID], within: float = 60
) -> dict[uuid.UUID, list[dict[str, object]]]:
    """Follow every order on the notifier until it ends; returns each order's events."""
    results = await asyncio.gather(*(follow(ws_base, str(i), within=within) for i in order_ids))
    streams = {}
    for order_id, (frames, code) in zip(order_ids, results, strict=True):
        assert code == 1000, (order_id, frames)
        streams[order_id] = frames[1:]
    return streams
