"""The limit trigger's evaluator killed with kill -9: another worker takes its pairs over within seconds,
and nothing fires twice (one `open -> routing` per order, at most one execution, gap-free streams)."""

from __future__ import annotations

import asyncio
import itertools
import json
import signal
import uuid
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
import sqlalchemy as sa
import websockets
from sqlalchemy.ext.asyncio import AsyncEngine

from orders_shared.models import events_table
from orders_worker.trigger import lease_key
from tests.conftest import FAST_VENUES, StackFactory
from tests.faults.conftest import submit, wait_all_terminal
from tests.support.infra import reader_engine
from tests.support.reconcile import assert_all_confirmed
from tests.support.services import Stack
from tests.support.streams import next_frame

pytestmark = pytest.mark.asyncio(loop_scope="session")

PAIR = "SOL/USDC"
# The worker whose session holds the pair's advisory lock: its lease connection is named after its pid.
_HOLDER = """
SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.locktype = 'advisory' AND l.granted AND l.database = (SELECT oid FROM pg_database
                                                              WHERE datname = current_database())
  AND l.classid::bigint = ((hashtext(:key)::bigint >> 32) & 4294967295)
  AND l.objid::bigint = (hashtext(:key)::bigint & 4294967295)
"""


@pytest_asyncio.fixture(loop_scope="session")
async def stack(make_stack: StackFactory) -> AsyncIterator[Stack]:
    """A stack on a database of its own (no other worker holds its leases) with a second worker."""
    stack = await make_stack(
        ("api", "worker", "notifier"),
        own_database=True,
        STUCK_AFTER_S="2",
        SWEEP_INTERVAL_S="0.5",
        **FAST_VENUES,
    )
    await make_stack.add(stack, "worker", key="second-worker")
    yield stack


@pytest_asyncio.fixture(loop_scope="session")
async def own_engine(stack: Stack) -> AsyncIterator[AsyncEngine]:
    """An engine on the stack's database."""
    engine = reader_engine(stack.env["DATABASE_URL"])
    yield engine
    await engine.dispose()


async def _holder_pid(engine: AsyncEngine, *, not_pid: int | None = None, within: float = 10) -> int:
    """The pid of the worker that holds the pair's lease (other than ``not_pid``), once one does.

    Postgres announces no "lock taken" event: asking again is the only way, and not a sleep standing in
    for one. Fails the test after ``within`` seconds.
    """
    try:
        async with asyncio.timeout(within):
            while True:
                async with engine.connect() as conn:
                    name = (await conn.execute(sa.text(_HOLDER), {"key": lease_key(PAIR)})).scalar()
                if name is not None and int(name.rsplit("-", 1)[1]) != not_pid:
                    return int(name.rsplit("-", 1)[1])
                await asyncio.sleep(0.05)
    except TimeoutError:
        raise AssertionError(
            f"no worker other than {not_pid} took the lease of {PAIR} in {within}s"
        ) from None


async def _until_fired(ws_base: str, order_ids: list[uuid.UUID], within: float = 30) -> None:
    """Return once any of the orders is fired (its first `routing`)."""
    async with websockets.connect(f"{ws_base}/api/orders/ws") as ws:
        await next_frame(ws)
        await ws.send(json.dumps({"action": "subscribe", "orderIds": [str(i) for i in order_ids]}))
        async with asyncio.timeout(within):
            while (await next_frame(ws))["status"] != "routing":
                pass


async def _fires_per_order(engine: AsyncEngine, order_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    """How many times each order left `open` for `routing` (an `open` event followed by a `routing` one)."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            sa.select(events_table.c.order_id, events_table.c.status)
            .where(events_table.c.order_id.in_(order_ids))
            .order_by(events_table.c.order_id, events_table.c.seq)
        )
        statuses: dict[uuid.UUID, list[str]] = {}
        for order_id, status in rows:
            statuses.setdefault(order_id, []).append(status)
    return {
        order_id: sum(1 for a, b in itertools.pairwise(s) if (a, b) == ("open", "routing"))
        for order_id, s in statuses.items()
    }


async def test_the_evaluator_killed_another_worker_takes_over_and_nothing_fires_twice(
    stack: Stack, own_engine: AsyncEngine
) -> None:
    pids = {s.process.pid: key for key, s in stack.services.items() if key in ("worker", "second-worker")}
    holder = await _holder_pid(own_engine)
    assert holder in pids
    before = await submit(stack.api, 20, type="limit", limitPrice="1")
    await _until_fired(stack.ws, before)
    stack.services[pids[holder]].stop(signal.SIGKILL)
    # The other worker takes the lease within a few seconds of the holder's death...
    successor = await _holder_pid(own_engine, not_pid=holder)
    assert pids[successor] != pids[holder]
    # ...and fires what waits from then on.
    after = await submit(stack.api, 10, type="limit", limitPrice="1")
    ids = before + after
    streams = await wait_all_terminal(stack.ws, ids, within=60)
    for order_id, events in streams.items():
        assert [e["seq"] for e in events] == list(range(1, len(events) + 1)), order_id
    assert await _fires_per_order(own_engine, ids) == dict.fromkeys(ids, 1)
    await assert_all_confirmed(own_engine, ids)
