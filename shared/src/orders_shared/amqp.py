"""RabbitMQ connections and publishing with confirms."""

from __future__ import annotations

import aio_pika
from aio_pika.abc import AbstractExchange, AbstractRobustConnection, DeliveryMode

from orders_shared.contracts import Contract


async def connect(amqp_url: str, *, name: str) -> AbstractRobustConnection:
    """A connection that reconnects by itself and re-declares what was declared on it."""
    return await aio_pika.connect_robust(
        amqp_url, client_properties={"connection_name": name}, timeout=10, reconnect_interval=1
    )


async def publish(
    exchange: AbstractExchange, routing_key: str, message: Contract, *, persistent: bool = True
) -> None:
    """Publish and wait for the broker's confirm (the channel must have confirms on, the default)."""
    await exchange.publish(
        aio_pika.Message(
            message.to_json(),
            content_type="application/json",
            delivery_mode=DeliveryMode.PERSISTENT if persistent else DeliveryMode.NOT_PERSISTENT,
        ),
        routing_key=routing_key,
        timeout=10,
    )
