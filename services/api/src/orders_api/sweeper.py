"""The sweeper: hands orders that stopped making progress (their worker died) to a worker again.

RabbitMQ redelivers what a dead worker held, so this is the net under the net: whatever the cause, an
accepted order that has not moved for STUCK_AFTER_S is published again with the seq it was stuck at. The
receiver takes it over only if it is still there, and the compare-and-set steps and the executions
ledger make a needless takeover harmless. Stamping `updated_at` spaces the retries of one order.
"""

from __future__ import annotations

from dataclasses import dataclass

from aio_pika.abc import AbstractExchange

from orders_api.repository import touch_stuck
from orders_shared.amqp import publish
from orders_shared.contracts import ExecuteOrder
from orders_shared.db import Database
from orders_shared.logging import get_logger
from orders_shared.metrics import Metrics
from orders_shared.topology import EXECUTE_KEY

log = get_logger()
_BATCH = 500


@dataclass(slots=True)
class Sweeper:
    """Re-enqueues stuck orders, a pass at a time (app.py runs one every SWEEP_INTERVAL_S)."""

    db: Database
    exchange: AbstractExchange
    metrics: Metrics
    stuck_after_s: float

    async def sweep_once(self) -> int:
        """One pass; returns how many orders it handed out again."""
        # Published in the transaction that stamped them: a failed publish leaves them as they were.
        async with self.db.transaction() as conn:
            rows = await touch_stuck(conn, stuck_after_s=self.stuck_after_s, limit=_BATCH)
            for row in rows:
                message = ExecuteOrder(order_id=row.id, attempt=max(row.attempt, 1), seen_seq=row.last_seq)
                await publish(self.exchange, EXECUTE_KEY, message)
        if rows:
            self.metrics.sweeper_requeued.inc(len(rows))
            log.warning("stuck_orders_requeued", count=len(rows))
        return len(rows)
