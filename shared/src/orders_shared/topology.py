"""The RabbitMQ topology, declared idempotently by every service at start.

exchange `orders` (direct)
  ├─ rk `execute`  → quorum queue `orders.execute`   (work; x-delivery-limit, dead-letters to `dead`)
  ├─ rk `retry.N`  → queue `orders.retry.N`          (TTL base·2^(N-1), dead-letters back to `execute`)
  └─ rk `dead`     → quorum queue `orders.dead`      (what no attempt could finish)
exchange `order.events` (topic), rk `order.<status>` → one exclusive queue per notifier replica
exchange `market.events` (topic), rk `market.launch` → one exclusive queue per api replica (TokenLaunched)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractQueue

ORDERS_EXCHANGE: Final = "orders"
EVENTS_EXCHANGE: Final = "order.events"
MARKET_EXCHANGE: Final = "market.events"
LAUNCH_KEY: Final = "market.launch"
EXECUTE_QUEUE: Final = "orders.execute"
DEAD_QUEUE: Final = "orders.dead"
EXECUTE_KEY: Final = "execute"
DEAD_KEY: Final = "dead"
MAX_RETRY_QUEUES: Final = 3


def retry_queue(n: int) -> str:
    """Name of the delay queue for the n-th retry (1-based)."""
    return f"orders.retry.{n}"


def retry_key(n: int) -> str:
    """Routing key of the n-th retry's delay queue."""
    return f"retry.{n}"


def event_key(status: str) -> str:
    """Routing key of an order event."""
    return f"order.{status}"


@dataclass(frozen=True, slots=True)
class Topology:
    """Handles on the declared exchanges and the work queue."""

    orders: AbstractExchange
    events: AbstractExchange
    execute: AbstractQueue
    market: AbstractExchange


async def declare(
    channel: AbstractChannel, *, delivery_limit: int = 5, retry_base_delay_ms: int = 1000
) -> Topology:
    """Declare everything (a no-op when it exists with the same arguments)."""
    orders = await channel.declare_exchange(ORDERS_EXCHANGE, aio_pika.ExchangeType.DIRECT, durable=True)
    events = await channel.declare_exchange(EVENTS_EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True)
    market = await channel.declare_exchange(MARKET_EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True)
    execute = await channel.declare_queue(
        EXECUTE_QUEUE,
        durable=True,
        arguments={
            "x-queue-type": "quorum",
            "x-delivery-limit": delivery_limit,
            "x-dead-letter-exchange": ORDERS_EXCHANGE,
            "x-dead-letter-routing-key": DEAD_KEY,
        },
    )
    await execute.bind(orders, EXECUTE_KEY)
    dead = await channel.declare_queue(DEAD_QUEUE, durable=True, arguments={"x-queue-type": "quorum"})
    await dead.bind(orders, DEAD_KEY)
    for n in range(1, MAX_RETRY_QUEUES + 1):
        delay = await channel.declare_queue(
            retry_queue(n),
            durable=True,
            arguments={
                "x-message-ttl": retry_base_delay_ms * 2 ** (n - 1),
                "x-dead-letter-exchange": ORDERS_EXCHANGE,
                "x-dead-letter-routing-key": EXECUTE_KEY,
            },
        )
        await delay.bind(orders, retry_key(n))
    return Topology(orders=orders, events=events, execute=execute, market=market)
