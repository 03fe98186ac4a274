"""Events the api itself writes (a cancel), announced on `order.events` as the worker's doorbells are."""

from __future__ import annotations

from dataclasses import dataclass

from aio_pika.abc import AbstractExchange

from orders_shared.amqp import publish
from orders_shared.contracts import OrderEvent
from orders_shared.logging import get_logger
from orders_shared.metrics import Metrics

log = get_logger()


@dataclass(frozen=True, slots=True)
class EventAnnouncer:
    """Publishes committed events; a lost one only delays it: the notifier fills gaps from Postgres."""

    exchange: AbstractExchange
    metrics: Metrics

    async def announce(self, event: OrderEvent) -> None:
        """Publish ``event`` (already committed); a failure is logged and counted, never raised."""
        try:
            await publish(self.exchange, f"order.{event.status.value}", event, persistent=False)
        except Exception:
            self.metrics.publish_failures.labels(kind="event").inc()
            log.warning("event_publish_failed", seq=event.seq, exc_info=True)
