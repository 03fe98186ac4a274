"""Each fault test gets its own RabbitMQ vhost and its own service processes, to kill as it likes."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from tests.support.infra import throwaway_vhost
from tests.support.services import Service, Stack, start_service, wait_ready
from tests.support.streams import follow

StackFactory = Callable[..., Stack]


@pytest.fixture
def make_stack(database_url: str, tmp_path: Path) -> Iterator[StackFactory]:
    """Build a stack with extra settings; everything it started is stopped at the end of the test."""
    with ExitStack() as cleanup:

        def build(names: tuple[str, ...] = ("api", "worker", "notifier"), **settings: str) -> Stack:
            amqp_url = cleanup.enter_context(throwaway_vhost("orders-fault"))
            env = {"DATABASE_URL": database_url, "AMQP_URL": amqp_url, "LOG_LEVEL": "info", **settings}
            stack = Stack(env=env)
            for name in names:
                add(stack, name)
            return stack

        def add(stack: Stack, name: str, key: str | None = None) -> Service:
            service = start_service(name, stack.env, tmp_path)
            cleanup.callback(_stop_quietly, service)
            stack.services[key or name] = service
            wait_ready(service)
            return service

        build.add = add  # type: ignore[attr-defined]  # the factory also starts extra processes
        yield build


def _stop_quietly(service: Service) -> None:
    if service.process.poll() is None:
        service.process.kill()
        service.process.wait()


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
