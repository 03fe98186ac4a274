"""The worker process: an ASGI app for probes and metrics whose lifespan runs the consumer."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from aio_pika.abc import AbstractRobustConnection
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette

from orders_shared.amqp import connect
from orders_shared.db import Database
from orders_shared.launches import follow_launches
from orders_shared.metrics import create_metrics
from orders_shared.pools import ParsedPools
from orders_shared.probes import Check, broker_check, database_check, probe_routes
from orders_shared.repository import seed_pools
from orders_shared.topology import Topology, declare
from orders_venues import Catalog
from orders_worker.consumer import Consumer
from orders_worker.doorbell import Doorbell
from orders_worker.pipeline import Pipeline
from orders_worker.resources import Resources
from orders_worker.settings import WorkerSettings
from orders_worker.snipe import Launchpad
from orders_worker.trigger import Trigger
from orders_worker.venues.simulated import VenueLatency


def venue_latency(settings: WorkerSettings) -> VenueLatency:
    """The venues' simulated latency and failures, seeded so a run can be repeated."""
    return VenueLatency(
        rng=random.Random(f"{settings.market_seed}/latency"),
        quote_latency_s=settings.venue_quote_latency_ms.seconds(),
        execute_latency_s=settings.venue_execute_latency_ms.seconds(),
        failure_rate=settings.venue_failure_rate,
    )


async def _declared(
    res: Resources, connection: AbstractRobustConnection, *, prefetch: int | None = None
) -> Topology:
    """The topology, declared on a new channel with publisher confirms, which the caller publishes or
    consumes on (at most ``prefetch`` unacked deliveries, when given)."""
    settings = res.settings
    channel = await connection.channel(publisher_confirms=True)
    if prefetch is not None:
        await channel.set_qos(prefetch_count=prefetch)
    return await declare(
        channel, delivery_limit=settings.amqp_delivery_limit, retry_base_delay_ms=settings.retry_base_delay_ms
    )


async def _doorbell(connection: AbstractRobustConnection) -> Doorbell:
    # Events are doorbells (Postgres holds the record): a channel without publisher confirms spares every
    # step a round trip to the broker.
    return Doorbell(await connection.channel(publisher_confirms=False))


async def build_consumer(res: Resources, connection: AbstractRobustConnection) -> Consumer:
    """The consumer of `orders.execute` on ``connection``, its pipeline ringing events on a channel of
    their own; the topology declared first."""
    settings = res.settings
    topology = await _declared(res, connection, prefetch=settings.worker_concurrency)
    doorbell = await _doorbell(connection)
    return Consumer(
        topology.execute,
        topology.orders,
        Pipeline(res, doorbell),
        res.metrics,
        settings.max_attempts,
        concurrency=settings.worker_concurrency,
    )


async def build_trigger(res: Resources, connection: AbstractRobustConnection) -> Trigger:
    """The limit-order trigger, publishing fired orders with confirms and ringing their events."""
    topology = await _declared(res, connection)
    return Trigger(res, topology.orders, await _doorbell(connection))


async def build_launchpad(res: Resources, connection: AbstractRobustConnection) -> Launchpad:
    """The launch passes: the seeded schedule (announced with confirms) and the sniper orders' turns."""
    topology = await _declared(res, connection)
    # Learn a launch as it is announced, so the pass wakes as its pool opens; Postgres covers a missed one.
    await follow_launches(await connection.channel(), topology.market, res.metrics, res.catalog)
    return Launchpad(res, topology.market, await _doorbell(connection))


def create_app(settings: WorkerSettings, registry: CollectorRegistry | None = None) -> Starlette:
    """Build the worker; nothing connects until the lifespan starts."""
    metrics = create_metrics(registry)
    checks: dict[str, Check] = {}

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            # Postgres, then RabbitMQ, waited for up to STARTUP_TIMEOUT_S each (not serving, so not ready).
            db = await stack.enter_async_context(Database.for_service(settings, "orders-worker"))
            connection = await connect(
                settings.amqp_url, name="orders-worker", startup_timeout_s=settings.startup_timeout_s
            )
            stack.push_async_callback(connection.close)
            # Create the default pools if no worker has yet.
            async with db.connection() as conn:
                await seed_pools(conn)
            res = Resources(db, settings, venue_latency(settings), metrics, ParsedPools(), Catalog())
            consumer = await build_consumer(res, connection)
            checks["database"] = database_check(db)
            checks["rabbitmq"] = broker_check(connection)
            trigger = await build_trigger(res, connection)
            await consumer.start()
            triggering = asyncio.create_task(trigger.run(), name="limit-trigger")
            launchpad = await build_launchpad(res, connection)
            launching = asyncio.create_task(launchpad.run(), name="launchpad")
            try:
                yield
            finally:
                for task in (triggering, launching):
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
                await consumer.stop(settings.shutdown_grace_s)

    return Starlette(routes=probe_routes(lambda: checks, metrics.registry), lifespan=lifespan)
