"""Getting committed orders onto RabbitMQ: right after their commit, and the relay for what that missed.

The main road: the writer that committed a batch publishes it at once (`ExecutePublisher`), a few orders
to a message, and stamps `enqueued_at` once the broker confirmed every message. An order
is accepted when its row commits, whatever the broker is doing, so the publish can fail or never happen (the
broker away, the api killed between commit and publish). The relay is the recovery path: it publishes rows
still unstamped a while after their commit, oldest first, and stamps them in the transaction that locked
them (SKIP LOCKED, so several api replicas share the work). A publish that happens twice (a crash between
publish and stamp, or a relay overtaking a slow writer) is harmless: the worker's compare-and-set makes the
duplicate a no-op.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import aiormq
from aio_pika.abc import AbstractChannel

from orders_api.repository import claim_unpublished, stamp
from orders_shared.contracts import ExecuteOrders
from orders_shared.db import Database
from orders_shared.logging import get_logger
from orders_shared.metrics import Metrics
from orders_shared.topology import EXECUTE_KEY, ORDERS_EXCHANGE

log = get_logger()

# The writer publishes a batch within milliseconds of its commit; the relay leaves rows this young alone,
# so the two do not race to publish the same orders.
RELAY_AFTER_S = 5.0
# Orders per AMQP message. A message per order cost the api ~0.1 ms and RabbitMQ ~0.14 ms of CPU; a message
# of 16 costs about as much as one. Small enough that a burst still spreads over every worker (RabbitMQ
# hands whole messages round-robin to the consumers).
ORDERS_PER_MESSAGE = 16


class NotConfirmed(Exception):
    """The broker refused (nacked) a publish."""


def _message(order_ids: Sequence[uuid.UUID]) -> tuple[bytes, aiormq.spec.Basic.Properties]:
    # A fresh Properties per message: aiormq writes a message_id into the one it is given. Ours is the
    # first order's id, which lets RabbitMQ's tracing name the message.
    properties = aiormq.spec.Basic.Properties(
        content_type="application/json",
        delivery_mode=2,  # persistent
        message_id=order_ids[0].hex,
        message_type=ExecuteOrders.MESSAGE_TYPE,
    )
    return ExecuteOrders(order_ids=list(order_ids)).to_json(), properties


@dataclass(slots=True)
class ExecutePublisher:
    """Publishes new orders as `ExecuteOrders` messages and stamps them published."""

    db: Database
    channel: AbstractChannel
    metrics: Metrics
    # Confirms come back in milliseconds; a publish slower than this is left to the relay, not waited on.
    timeout_s: float = 2.0

    async def publish(self, order_ids: Sequence[uuid.UUID]) -> None:
        """Publish the orders, ORDERS_PER_MESSAGE to a message, and wait for every confirm."""
        # aiormq's channel directly: aio-pika's Message and Exchange wrappers cost a third of each publish.
        # Confirms arrive in publish order, so the batch costs one round trip, not one per message.
        raw = await self.channel.get_underlay_channel()
        step = ORDERS_PER_MESSAGE
        messages = [_message(order_ids[i : i + step]) for i in range(0, len(order_ids), step)]
        confirms = await asyncio.gather(
            *(
                raw.basic_publish(
                    body,
                    exchange=ORDERS_EXCHANGE,
                    routing_key=EXECUTE_KEY,
                    properties=properties,
                    timeout=self.timeout_s,
                )
                for body, properties in messages
            )
        )
        refused = sum(not isinstance(c, aiormq.spec.Basic.Ack) for c in confirms)
        if refused:
            raise NotConfirmed(f"the broker refused {refused} of {len(confirms)} publishes")

    async def publish_and_stamp(self, order_ids: Sequence[uuid.UUID]) -> None:
        """Publish the orders and mark them published; on failure log, count and leave them to the relay.

        Never waits for the broker to come back: with the channel closed (the broker away, the connection
        reconnecting) the orders are left to the relay at once, so intake goes on while RabbitMQ is down.
        """
        if self.channel.is_closed:
            return
        try:
            async with asyncio.timeout(self.timeout_s):
                await self.publish(order_ids)
            async with self.db.connection() as conn:
                await stamp(conn, order_ids)
        except asyncio.CancelledError:
            raise
        except Exception:  # broker or database away: the rows stay unstamped and the relay takes them
            self.metrics.publish_failures.labels(kind="execute").inc()
            log.warning("publish_after_commit_failed", exc_info=True, orders=len(order_ids))
            return
        self.metrics.outbox_published.inc(len(order_ids))


@dataclass(slots=True)
class OutboxRelay:
    """Publishes the orders that the writer could not, oldest first."""

    db: Database
    publisher: ExecutePublisher
    metrics: Metrics
    batch_size: int

    async def relay_once(self) -> int:
        """Publish one batch; returns how many orders it published."""
        async with self.db.transaction() as conn:
            ids = await claim_unpublished(conn, older_than_s=RELAY_AFTER_S, limit=self.batch_size)
            if not ids:
                self.metrics.outbox_backlog.set(0)
                return 0
            await self.publisher.publish(ids)
            await stamp(conn, ids)
        log.info("outbox_relayed", orders=len(ids))
        self.metrics.outbox_published.inc(len(ids))
        self.metrics.outbox_backlog.set(len(ids) if len(ids) == self.batch_size else 0)
        return len(ids)

    async def drain(self) -> None:
        """Publish batches until one is not full: the backlog is gone."""
        while await self.relay_once() == self.batch_size:
            pass
