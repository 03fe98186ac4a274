"""This replica's own queue on `order.events`: every replica receives every event."""

from __future__ import annotations

from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractIncomingMessage
from pydantic import ValidationError

from orders_notifier.hub import Hub
from orders_shared.contracts import OrderEvent
from orders_shared.logging import get_logger
from orders_shared.metrics import Metrics

log = get_logger()


async def subscribe(channel: AbstractChannel, events: AbstractExchange, hub: Hub, metrics: Metrics) -> None:
    """Bind an exclusive, server-named queue to every order event and feed the hub from it."""

    async def on_event(message: AbstractIncomingMessage) -> None:
        try:
            event = OrderEvent.model_validate_json(message.body)
        except ValidationError:
            metrics.internal_errors.labels(where="notifier").inc()
            log.error("event_malformed", body=message.body[:200].decode(errors="replace"))
            return
        hub.dispatch(event)

    # Exclusive and auto-deleted: the queue lives and dies with this replica; missed events are
    # recovered from Postgres, so nothing here needs to survive a restart.
    queue = await channel.declare_queue(
        exclusive=True, auto_delete=True, arguments={"x-queue-type": "classic"}
    )
    await queue.bind(events, "order.#")
    await queue.consume(on_event, no_ack=True)
