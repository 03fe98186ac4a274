"""RabbitMQ connections and publishing with confirms."""

from __future__ import annotations

import aio_pika
from aio_pika.abc import AbstractExchange, AbstractRobustConnection, DeliveryMode

from orders_shared.contracts import Contract
from orders_shared.reach import rabbitmq, retry_until


async def connect(
    amqp_url: str, *, name: str, startup_timeout_s: float | None = None
) -> AbstractRobustConnection:
    """A connection that reconnects by itself and re-declares what was declared on it.

    Once made, it reconnects by itself; the first one is tried once, or, with ``startup_timeout_s``,
    for that long with one log line per failed attempt, raising `orders_shared.reach.Unreachable`.
    """

    async def attempt(timeout_s: float) -> AbstractRobustConnection:
        return await aio_pika.connect_robust(
            amqp_url, client_properties={"connection_name": name}, timeout=timeout_s, reconnect_interval=1
        )

    if startup_timeout_s is None:
        return await attempt(10)
    return await retry_until(rabbitmq(amqp_url), attempt, startup_timeout_s)


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
