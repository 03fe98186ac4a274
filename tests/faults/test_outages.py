"""RabbitMQ and Postgres go away and come back: every accepted order still ends, the services recover."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
import uuid

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from orders_shared.amqp import connect
from orders_shared.contracts import ExecuteOrder
from orders_shared.topology import DEAD_QUEUE
from tests.conftest import StackFactory
from tests.faults.conftest import submit, wait_all_terminal
from tests.support.reconcile import assert_all_confirmed, reconcile
from tests.support.services import Stack

pytestmark = pytest.mark.asyncio(loop_scope="session")


def _run(*command: str) -> None:
    subprocess.run(command, check=True, capture_output=True, timeout=120)


def _rabbitmqctl(*args: str) -> None:
    _run(shutil.which("rabbitmqctl") or "/usr/sbin/rabbitmqctl", "-q", *args)


def _postgres(action: str) -> None:
    cluster = subprocess.run(
        ["ls", "/etc/postgresql"], capture_output=True, text=True, check=True
    ).stdout.split()[0]
    _run("pg_ctlcluster", "--skip-systemctl-redirect", cluster, "main", action)


async def _readiness(stack: Stack, name: str) -> int:
    async with httpx.AsyncClient(timeout=3) as client:
        try:
            return (await client.get(f"{stack.services[name].url}/readyz")).status_code
        except httpx.TransportError:
            return 0


async def _until_ready(stack: Stack, expected: int, within: float = 60) -> None:
    async with asyncio.timeout(within):
        for name in stack.services:
            while await _readiness(stack, name) != expected:  # noqa: ASYNC110  # a probe offers no event
                await asyncio.sleep(0.1)


async def test_orders_accepted_while_rabbitmq_is_down_all_finish(
    make_stack: StackFactory, engine: AsyncEngine
) -> None:
    stack = await make_stack(VENUE_QUOTE_LATENCY_MS="5-10", VENUE_EXECUTE_LATENCY_MS="20-50")
    before = await submit(stack.api, 5)
    await asyncio.to_thread(_rabbitmqctl, "stop_app")
    try:
        await _until_ready(stack, 503)
        started = time.monotonic()
        during = await submit(stack.api, 10)
        # Accepting never waits on the broker.
        assert time.monotonic() - started < 5
    finally:
        await asyncio.to_thread(_rabbitmqctl, "start_app")
    await _until_ready(stack, 200)
    after = await submit(stack.api, 5)
    ids = before + during + after
    await wait_all_terminal(stack.ws, ids, within=90)
    await assert_all_confirmed(engine, ids)


async def test_postgres_restart_gets_fast_503s_then_the_services_recover_unaided(
    make_stack: StackFactory, engine: AsyncEngine
) -> None:
    stack = await make_stack(VENUE_QUOTE_LATENCY_MS="5-10", VENUE_EXECUTE_LATENCY_MS="20-50")
    body = {"tokenIn": "SOL", "tokenOut": "USDC", "amountIn": "0.5"}
    await asyncio.to_thread(_postgres, "stop")
    try:
        await _until_ready(stack, 503)
        async with httpx.AsyncClient(base_url=stack.api, timeout=10) as client:
            started = time.monotonic()
            refused = await client.post("/api/orders/execute", json=body)
            assert time.monotonic() - started < 5
        assert refused.status_code == 503
        assert refused.headers["content-type"] == "application/problem+json"
        assert int(refused.headers["retry-after"]) > 0
    finally:
        await asyncio.to_thread(_postgres, "start")
    await engine.dispose()
    await _until_ready(stack, 200)
    ids: list[uuid.UUID] = []
    async with httpx.AsyncClient(base_url=stack.api, timeout=10) as client, asyncio.timeout(30):
        while len(ids) < 5:
            # The first request on a connection that died with the server is refused; clients retry.
            response = await client.post("/api/orders/execute", json=body)
            if response.status_code == 202:
                ids.append(uuid.UUID(response.json()["orderId"]))
            else:
                assert response.status_code == 503
    await wait_all_terminal(stack.ws, ids)
    await assert_all_confirmed(engine, ids)


async def test_venue_that_always_fails_fails_the_order_after_max_attempts(
    make_stack: StackFactory, engine: AsyncEngine
) -> None:
    stack = await make_stack(
        VENUE_FAILURE_RATE="1",
        RETRY_BASE_DELAY_MS="50",
        MAX_ATTEMPTS="3",
        VENUE_QUOTE_LATENCY_MS="5-10",
        VENUE_EXECUTE_LATENCY_MS="20-50",
    )
    [order_id] = await submit(stack.api, 1)
    streams = await wait_all_terminal(stack.ws, [order_id])
    failed = streams[order_id][-1]
    assert failed["status"] == "failed"
    assert failed["errorCode"] == "VENUE_UNAVAILABLE"
    assert failed["attempt"] == 3
    async with httpx.AsyncClient(base_url=stack.api) as client:
        order = (await client.get(f"/api/orders/{order_id}")).json()
    assert (order["status"], order["attempt"], order["failureCode"]) == ("failed", 3, "VENUE_UNAVAILABLE")
    assert order["failureReason"]
    connection = await connect(stack.env["AMQP_URL"], name="fault-test")
    try:
        channel = await connection.channel()
        dead = await channel.get_queue(DEAD_QUEUE, ensure=False)
        message = await dead.get(timeout=10)
        assert message is not None
        assert ExecuteOrder.model_validate_json(message.body) == ExecuteOrder(order_id=order_id, attempt=3)
    finally:
        await connection.close()
    async with httpx.AsyncClient() as client:
        metrics = (await client.get(f"{stack.worker}/metrics")).text
    assert 'order_retries_total{reason="VENUE_UNAVAILABLE"} 2.0' in metrics
    assert "order_dead_letters_total 1.0" in metrics
    result = await reconcile(engine, [order_id])
    assert result.clean, result
