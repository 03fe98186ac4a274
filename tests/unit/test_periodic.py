"""The api's background passes: a failed pass is logged and counted, and the next one runs."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client import CollectorRegistry, Counter
from structlog.testing import capture_logs

from orders_api.periodic import every

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_a_failed_pass_is_logged_and_counted_and_the_next_one_runs() -> None:
    registry = CollectorRegistry()
    failures = Counter("passes_failed", "test", registry=registry)
    calls = 0
    recovered = asyncio.Event()

    async def step() -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionError("the broker is away")
        recovered.set()

    with capture_logs() as logs:
        task = asyncio.create_task(every(0, step, event="pass_failed", failures=failures))
        try:
            await asyncio.wait_for(recovered.wait(), timeout=5)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    assert registry.get_sample_value("passes_failed_total") == 1
    assert [entry["event"] for entry in logs] == ["pass_failed"]
    assert task.cancelled()
