"""Group commit: concurrent order submissions share one INSERT and one COMMIT.

A request hands its order to the writer and waits; a flusher takes everything queued at that moment and
writes it in one statement (orders and their `pending` events, one transaction). Under load the batches
grow by themselves while the previous one is in flight; alone, an order waits for nothing but its own
round trip. A request is answered only after its batch committed, so "202" still means "stored".

Then the same flusher publishes the batch's new orders (outbox.ExecutePublisher) before it takes the next
batch: publishing paces intake, so under sustained load the orders published keep up with the orders
accepted instead of piling up for the relay.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from orders_api.outbox import ExecutePublisher
from orders_api.repository import REFUSED_ROW, UNREACHABLE, UNREACHABLE_DETAIL, NewOrder, insert_orders
from orders_shared.db import Database
from orders_shared.errors import Unavailable
from orders_shared.logging import get_logger
from orders_shared.metrics import Metrics

log = get_logger()


_Pending = tuple[NewOrder, "asyncio.Future[bool]"]


@dataclass(slots=True)
class OrderWriter:
    """Stores orders for many concurrent requests in few transactions; run ``run()`` as a task.

    With a ``publisher``, each batch's new orders are published right after their commit.
    """

    db: Database
    metrics: Metrics
    publisher: ExecutePublisher | None = None
    max_batch: int = field(kw_only=True)
    flushers: int = 2
    _queue: asyncio.Queue[_Pending] = field(default_factory=asyncio.Queue)

    async def write(self, order: NewOrder) -> bool:
        """Store ``order``; False when its Idempotency-Key was already taken (nothing written)."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((order, future))
        return await future

    async def run(self) -> None:
        """Flush batches until cancelled; whatever is still queued then fails instead of hanging."""
        try:
            async with asyncio.TaskGroup() as group:
                for n in range(self.flushers):
                    group.create_task(self._flush_forever(), name=f"order-writer-{n}")
        finally:
            while not self._queue.empty():
                _, future = self._queue.get_nowait()
                if not future.done():
                    future.set_exception(_shutting_down())

    async def _flush_forever(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self.max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            await self._flush(batch)

    async def _flush(self, batch: list[_Pending]) -> None:
        orders = [order for order, _ in batch]
        try:
            # One statement: autocommit makes it one transaction, orders and events together.
            async with self.db.connection() as conn:
                created = await insert_orders(conn, orders)
        except REFUSED_ROW as exc:
            if len(batch) == 1:
                _fail(batch, exc)
                return
            # One bad row must not fail the orders it happened to share a batch with.
            for one in batch:
                await self._flush([one])
            return
        except asyncio.CancelledError:
            _fail(batch, _shutting_down())
            raise
        except UNREACHABLE as exc:
            # Every request of the batch answers 503 with Retry-After (and is logged there).
            log.warning(
                "order_batch_not_stored", orders=len(batch), error=type(exc).__name__, detail=str(exc)
            )
            _fail(batch, Unavailable(UNREACHABLE_DETAIL))
            return
        except Exception as exc:  # noqa: BLE001 - raised again in every request of the batch (500, logged)
            _fail(batch, exc)
            return
        self.metrics.ingest_batch_size.observe(len(batch))
        for order, future in batch:
            if not future.done():
                future.set_result(order.order_id in created)
        if self.publisher is not None and created:
            await self.publisher.publish_and_stamp([o.order_id for o in orders if o.order_id in created])


def _shutting_down() -> Unavailable:
    return Unavailable("the api is shutting down; try again")


def _fail(batch: list[_Pending], exc: BaseException) -> None:
    for _, future in batch:
        if not future.done():
            future.set_exception(exc)
