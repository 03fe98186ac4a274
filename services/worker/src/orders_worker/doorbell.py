"""The doorbells: each committed event published to `order.events`, on aiormq's channel directly.

An order rings four of them, so they skip aio-pika's Message and Exchange wrappers (most of what a
publish cost): the body is the event's wire JSON serialised by pydantic in one call, the properties are
built once per message, as aiormq writes a message id into the ones it is given.
"""

from __future__ import annotations

from dataclasses import dataclass

import aiormq
from aio_pika.abc import AbstractChannel

from orders_shared.contracts import OrderEvent
from orders_shared.topology import EVENTS_EXCHANGE


def wire(event: OrderEvent) -> bytes:
    """The event as published: camelCase, no nulls (as `Contract.to_json`)."""
    return event.model_dump_json(by_alias=True, exclude_none=True).encode()


@dataclass(frozen=True, slots=True)
class Doorbell:
    """Publishes events, without confirms: Postgres holds the record, a lost one is filled from there."""

    channel: AbstractChannel
    timeout_s: float = 10.0

    async def ring(self, events: list[OrderEvent]) -> None:
        """Publish ``events`` in order; raises if the channel is closed or writing them failed."""
        # The underlying channel is looked up each time: a robust connection replaces it on reconnect.
        raw = await self.channel.get_underlay_channel()
        for event in events:
            await raw.basic_publish(
                wire(event),
                exchange=EVENTS_EXCHANGE,
                routing_key=f"order.{event.status.value}",
                properties=aiormq.spec.Basic.Properties(
                    content_type="application/json",
                    delivery_mode=1,
                    message_id=f"{event.order_id.hex}.{event.seq}",
                ),
                timeout=self.timeout_s,
            )
