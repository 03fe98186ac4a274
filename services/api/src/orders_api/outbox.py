"""The outbox relay: publishes committed orders that are not yet on RabbitMQ, oldest first.

An order is accepted when its row commits, whatever the broker is doing; the relay publishes rows whose
`enqueued_at` is null and stamps them in the same transaction that locked them (SKIP LOCKED, so several
api replicas share the work). A crash between publish and stamp publishes again: the worker's
compare-and-set makes the duplicate harmless.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

import sqlalchemy as sa
from aio_pika.abc import AbstractExchange
from sqlalchemy.ext.asyncio import AsyncEngine

from orders_shared.amqp import publish
from orders_shared.contracts import ExecuteOrder
from orders_shared.logging import get_logger
from orders_shared.metrics import Metrics
from orders_shared.models import orders_table
from orders_shared.topology import EXECUTE_KEY

log = get_logger()

_CLAIM = (
    sa.select(orders_table.c.id)
    .where(orders_table.c.enqueued_at.is_(None))
    .order_by(orders_table.c.created_at)
    .with_for_update(skip_locked=True)
)


@dataclass(slots=True)
class OutboxRelay:
    """Moves accepted orders from Postgres to the `orders.execute` queue."""

    engine: AsyncEngine
    exchange: AbstractExchange
    metrics: Metrics
    nudge: asyncio.Event
    batch_size: int = 200
    poll_s: float = 1.0

    async def relay_once(self) -> int:
        """Publish one batch; returns how many orders it published."""
        async with self.engine.begin() as conn:
            ids = (await conn.execute(_CLAIM.limit(self.batch_size))).scalars().all()
            if not ids:
                self.metrics.outbox_backlog.set(0)
                return 0
            # Channel order is publish order, so concurrent publishes still reach the queue oldest first.
            await asyncio.gather(
                *(publish(self.exchange, EXECUTE_KEY, ExecuteOrder(order_id=i, attempt=1)) for i in ids)
            )
            await conn.execute(
                sa.update(orders_table).where(orders_table.c.id.in_(ids)).values(enqueued_at=sa.func.now())
            )
        self.metrics.outbox_published.inc(len(ids))
        self.metrics.outbox_backlog.set(len(ids) if len(ids) == self.batch_size else 0)
        return len(ids)

    async def run(self) -> None:
        """Relay until cancelled; a failure is logged, counted and retried with backoff."""
        backoff = 0.1
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.nudge.wait(), timeout=self.poll_s)
            self.nudge.clear()
            try:
                while await self.relay_once() == self.batch_size:
                    pass
                backoff = 0.1
            except asyncio.CancelledError:
                raise
            except Exception:  # broker or database away: the rows wait, we retry
                self.metrics.publish_failures.labels(kind="execute").inc()
                log.warning("outbox_relay_failed", exc_info=True, retry_in_s=backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
