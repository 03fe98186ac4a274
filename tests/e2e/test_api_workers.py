"""API_WORKERS: several api processes on one port, one set of metrics, a clean stop."""

from __future__ import annotations

import signal

import httpx
import pytest

from tests.conftest import StackFactory

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]

BODY = {"tokenIn": "SOL", "tokenOut": "USDC", "amountIn": "0.1"}


def _metric(text: str, name: str) -> float:
    return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith(name + " "))


async def test_two_api_processes_serve_one_port_count_together_and_stop_cleanly(
    make_stack: StackFactory,
) -> None:
    stack = await make_stack(API_WORKERS="2", VENUE_QUOTE_LATENCY_MS="0", VENUE_EXECUTE_LATENCY_MS="0")
    async with httpx.AsyncClient(base_url=stack.api) as client:
        before = _metric((await client.get("/metrics")).text, "orders_accepted_total")
        # A new connection each time: the kernel hands connections to both processes.
        for _ in range(20):
            async with httpx.AsyncClient(base_url=stack.api) as once:
                assert (await once.post("/api/orders/execute", json=BODY)).status_code == 202
        after = _metric((await client.get("/metrics")).text, "orders_accepted_total")
    assert after - before == 20
    assert stack.services["api"].stop(signal.SIGTERM) == 0
