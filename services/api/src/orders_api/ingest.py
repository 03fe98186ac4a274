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
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from orders_api.outbox import ExecutePublisher
from orders_api.repository import UNREACHABLE, UNREACHABLE_DETAIL
from orders_shared.errors import Unavailable
from orders_shared.logging import get_logger
from orders_shared.metrics import Metrics

log = get_logger()


@dataclass(frozen=True, slots=True)
class NewOrder:
    """A validated order, ready to be stored as `pending`."""

    order_id: uuid.UUID
    client: str
    token_in: str
    token_out: str
    amount_in: Decimal
    slippage_bps: int
    idempotency_key: str | None = None
    request_hash: str | None = None


# One round trip for the whole batch. unnest keeps the request order, and clock_timestamp() gives each
# row its own created_at, so the outbox still publishes oldest first. A row whose (client,
# idempotency_key) exists already, or repeats one earlier in the batch, is skipped: not in RETURNING.
_INSERT_BATCH = """
WITH input AS (
    SELECT r.*, clock_timestamp() AS at
    FROM unnest(
        %(ids)s::uuid[], %(clients)s::text[], %(keys)s::text[], %(hashes)s::text[],
        %(tokens_in)s::text[], %(tokens_out)s::text[], %(amounts)s::numeric[], %(slippages)s::int[]
    ) AS r(id, client, idempotency_key, request_hash, token_in, token_out, amount_in, slippage_bps)
), created AS (
    INSERT INTO orders (
        id, client, idempotency_key, request_hash, type, token_in, token_out, amount_in, slippage_bps,
        status, attempt, last_seq, created_at, updated_at
    )
    SELECT id, client, idempotency_key, request_hash, 'market', token_in, token_out, amount_in,
           slippage_bps, 'pending', 0, 1, at, at
    FROM input
    ON CONFLICT ON CONSTRAINT uq_orders_client_idempotency_key DO NOTHING
    RETURNING id, created_at
), events AS (
    INSERT INTO order_events (order_id, seq, status, detail, created_at)
    SELECT id, 1, 'pending', '{}'::jsonb, created_at FROM created
)
SELECT id FROM created
"""


async def insert_orders(conn: AsyncConnection, orders: Sequence[NewOrder]) -> set[uuid.UUID]:
    """Insert ``orders`` with their event #1 in one statement; returns the ids actually created."""
    params = {
        "ids": [o.order_id for o in orders],
        "clients": [o.client for o in orders],
        "keys": [o.idempotency_key for o in orders],
        "hashes": [o.request_hash for o in orders],
        "tokens_in": [o.token_in for o in orders],
        "tokens_out": [o.token_out for o in orders],
        "amounts": [o.amount_in for o in orders],
        "slippages": [o.slippage_bps for o in orders],
    }
    result = await conn.exec_driver_sql(_INSERT_BATCH, params)
    return {row[0] for row in result}


_Pending = tuple[NewOrder, "asyncio.Future[bool]"]


@dataclass(slots=True)
class OrderWriter:
    """Stores orders for many concurrent requests in few transactions; run ``run()`` as a task.

    With a ``publisher``, each batch's new orders are published right after their commit.
    """

    engine: AsyncEngine
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
            async with self.engine.begin() as conn:
                created = await insert_orders(conn, orders)
        except (sa.exc.IntegrityError, sa.exc.DataError) as exc:
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
