"""The doorbells: each committed event published to `order.events`, as one write per batch of events.

An order rings four of them, three at once (routing, building, submitted), so they skip aio-pika's Message
and Exchange wrappers and aiormq's per-message `basic_publish` (a lock, a timeout and a drain each):
the events' AMQP frames — publish, header, body for each, as `basic_publish` builds them — go to the
connection's writer as one payload, one socket write, in order. The channel has no publisher confirms,
so there is no delivery tag to track: Postgres holds the record, and a lost doorbell is filled from there.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import cast

import aiormq
from aio_pika.abc import AbstractChannel
from aiormq.abc import ChannelFrame, FrameType
from pamqp.body import ContentBody
from pamqp.header import ContentHeader

from orders_shared.contracts import OrderEvent
from orders_shared.logging import get_logger
from orders_shared.metrics import Metrics
from orders_shared.topology import EVENTS_EXCHANGE

log = get_logger()


def wire(event: OrderEvent) -> bytes:
    """The event as published: camelCase, no nulls (as `Contract.to_json`)."""
    return event.model_dump_json(by_alias=True, exclude_none=True).encode()


def _frames(event: OrderEvent, max_body: int) -> list[FrameType]:
    body = wire(event)
    properties = aiormq.spec.Basic.Properties(
        content_type="application/json", delivery_mode=1, message_id=f"{event.order_id.hex}.{event.seq}"
    )
    return [
        aiormq.spec.Basic.Publish(exchange=EVENTS_EXCHANGE, routing_key=f"order.{event.status.value}"),
        ContentHeader(properties=properties, body_size=len(body)),
        *(ContentBody(body[i : i + max_body]) for i in range(0, len(body), max_body)),
    ]


@dataclass(frozen=True, slots=True)
class Doorbell:
    """Publishes events without confirms, on a channel of their own."""

    channel: AbstractChannel
    timeout_s: float = 10.0

    async def ring(self, events: list[OrderEvent]) -> None:
        """Publish ``events`` in order; raises if the channel is closed or the write took too long."""
        # Looked up each time: a robust connection replaces the underlying channel when it reconnects.
        raw = cast(aiormq.Channel, await self.channel.get_underlay_channel())
        if raw.is_closed:
            raise aiormq.exceptions.ChannelInvalidStateError("the events channel is closed")
        frames = [frame for event in events for frame in _frames(event, raw.max_content_size)]
        # The channel's own future: closing the channel fails it at once, as it would a basic_publish.
        written = raw.create_future()
        async with asyncio.timeout(self.timeout_s):
            # One queue item: the writer sends it whole, so no other frame of the channel falls inside it.
            await raw.write_queue.put(ChannelFrame.marshall(raw.number, frames, drain_future=written))
            await written

    async def ring_committed(self, events: list[OrderEvent], metrics: Metrics) -> None:
        """Ring ``events``, committed already: a failure is counted and logged, not raised, for a lost
        doorbell only delays the events (the notifier fills gaps from Postgres)."""
        if not events:
            return
        try:
            await self.ring(events)
        except Exception:
            metrics.publish_failures.labels(kind="event").inc()
            log.warning("event_publish_failed", seq=events[-1].seq, exc_info=True)
