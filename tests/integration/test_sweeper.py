"""The sweeper against the real Postgres and RabbitMQ: an order published but not moving for stuck_after_s is
published again as `ExecuteOrder` with the seq it was stuck at; a moving, finished or never published one
is not.

The sweeper takes every stuck row of its database, and the e2e stack's api sweeps this run's shared one, so
these tests have a database (and a vhost) of their own. Rows are made old by setting ``updated_at`` back.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

import orjson
import pytest
import pytest_asyncio
from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractQueue
from prometheus_client import CollectorRegistry

from orders_api.repository import NewOrder, insert_orders
from orders_api.sweeper import Sweeper
from orders_shared.contracts import ExecuteOrder
from orders_shared.db import Database
from orders_shared.metrics import create_metrics
from orders_shared.topology import ORDERS_EXCHANGE

pytestmark = pytest.mark.asyncio(loop_scope="session")

STUCK_AFTER_S = 60.0


@pytest_asyncio.fixture(loop_scope="session")
async def tap(own_db: Database, tap: AbstractQueue) -> AbstractQueue:
    """The module's execute tap (conftest), the test starting with nothing stuck."""
    async with own_db.connection() as conn:
        await conn.execute("UPDATE orders SET status = 'confirmed'")
    return tap


@pytest_asyncio.fixture(loop_scope="session")
async def sweeper(own_db: Database, own_channel: AbstractChannel, registry: CollectorRegistry) -> Sweeper:
    exchange: AbstractExchange = await own_channel.get_exchange(ORDERS_EXCHANGE)
    return Sweeper(own_db, exchange, create_metrics(registry), stuck_after_s=STUCK_AFTER_S)


async def _order(
    db: Database,
    *,
    status: str = "routing",
    attempt: int = 2,
    last_seq: int = 3,
    idle_s: float,
    enqueued: bool = True,
) -> uuid.UUID:
    """An order committed as the api does, then moved to ``status`` at ``last_seq``, idle for ``idle_s``."""
    order = NewOrder(
        order_id=uuid.uuid4(),
        client=f"sweeper-{uuid.uuid4()}",
        token_in="SOL",
        token_out="USDC",
        amount_in=Decimal("1.5"),
        slippage_bps=50,
    )
    async with db.transaction() as conn:
        assert await insert_orders(conn, [order]) == {order.order_id}
        await conn.execute(
            """
            UPDATE orders SET status = %(status)s, attempt = %(attempt)s, last_seq = %(last_seq)s,
                enqueued_at = CASE WHEN %(enqueued)s THEN now() END,
                updated_at = now() - make_interval(secs => %(idle_s)s)
            WHERE id = %(id)s
            """,
            {
                "status": status,
                "attempt": attempt,
                "last_seq": last_seq,
                "enqueued": enqueued,
                "idle_s": idle_s,
                "id": order.order_id,
            },
        )
    return order.order_id


async def _messages(queue: AbstractQueue) -> list[dict[str, Any]]:
    """The wire form of every message on ``queue`` now; sweep_once returns only after the broker confirmed."""
    got: list[dict[str, Any]] = []
    while (message := await queue.get(no_ack=True, fail=False, timeout=5)) is not None:
        got.append(orjson.loads(message.body))
    return got


async def _updated_at(db: Database, order_id: uuid.UUID) -> datetime:
    async with db.connection() as conn:
        cur = await conn.execute("SELECT updated_at FROM orders WHERE id = %s", (order_id,))
        row = await cur.fetchone()
        assert row is not None
        updated_at: datetime = row[0]
        return updated_at


async def test_a_stuck_order_is_published_again_with_the_seq_it_was_stuck_at(
    sweeper: Sweeper, own_db: Database, tap: AbstractQueue, registry: CollectorRegistry
) -> None:
    order_id = await _order(own_db, status="submitted", attempt=2, last_seq=4, idle_s=STUCK_AFTER_S + 5)

    assert await sweeper.sweep_once() == 1

    [wire] = await _messages(tap)
    assert wire["seenSeq"] == 4
    assert ExecuteOrder.model_validate(wire) == ExecuteOrder(order_id=order_id, attempt=2, seen_seq=4)
    assert registry.get_sample_value("sweeper_requeued_total") == 1


async def test_a_stuck_order_is_not_published_again_until_it_is_stuck_again(
    sweeper: Sweeper, own_db: Database, tap: AbstractQueue
) -> None:
    await _order(own_db, idle_s=STUCK_AFTER_S + 5)

    assert await sweeper.sweep_once() == 1
    assert await sweeper.sweep_once() == 0
    assert len(await _messages(tap)) == 1


async def test_a_stuck_order_never_attempted_is_handed_out_as_attempt_one(
    sweeper: Sweeper, own_db: Database, tap: AbstractQueue
) -> None:
    order_id = await _order(own_db, status="pending", attempt=0, last_seq=1, idle_s=STUCK_AFTER_S + 5)

    assert await sweeper.sweep_once() == 1

    [wire] = await _messages(tap)
    assert ExecuteOrder.model_validate(wire) == ExecuteOrder(order_id=order_id, attempt=1, seen_seq=1)


@pytest.mark.parametrize(
    ("status", "idle_s", "enqueued"),
    [
        pytest.param("routing", STUCK_AFTER_S - 10, True, id="moving"),
        pytest.param("confirmed", STUCK_AFTER_S + 5, True, id="confirmed"),
        pytest.param("failed", STUCK_AFTER_S + 5, True, id="failed"),
        pytest.param("pending", STUCK_AFTER_S + 5, False, id="never-published"),
    ],
)
async def test_only_the_stuck_order_is_published_again(
    sweeper: Sweeper,
    own_db: Database,
    tap: AbstractQueue,
    status: str,
    idle_s: float,
    enqueued: bool,
) -> None:
    left = await _order(own_db, status=status, idle_s=idle_s, enqueued=enqueued)
    stuck = await _order(own_db, idle_s=STUCK_AFTER_S + 5)
    left_updated_at = await _updated_at(own_db, left)

    assert await sweeper.sweep_once() == 1

    assert [ExecuteOrder.model_validate(wire).order_id for wire in await _messages(tap)] == [stuck]
    assert await _updated_at(own_db, left) == left_updated_at
