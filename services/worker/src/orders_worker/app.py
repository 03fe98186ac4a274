"""The worker process: an ASGI app for probes and metrics whose lifespan runs the consumer."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from prometheus_client import CollectorRegistry
from starlette.applications import Starlette

from orders_shared.amqp import connect
from orders_shared.db import Database, create_pool
from orders_shared.metrics import create_metrics
from orders_shared.probes import Check, broker_check, pool_check, probe_routes
from orders_shared.repository import seed_pools
from orders_shared.topology import declare
from orders_worker.consumer import Consumer
from orders_worker.doorbell import Doorbell
from orders_worker.pipeline import Pipeline
from orders_worker.repository import ParsedPools
from orders_worker.route_finder import RouteFinder
from orders_worker.settings import WorkerSettings
from orders_worker.venues.simulated import VenueLatency


def venue_latency(settings: WorkerSettings) -> VenueLatency:
    """The venues' simulated latency and failures, seeded so a run can be repeated."""
    return VenueLatency(
        rng=random.Random(f"{settings.market_seed}/latency"),
        quote_latency_s=settings.venue_quote_latency_ms.seconds(),
        execute_latency_s=settings.venue_execute_latency_ms.seconds(),
        failure_rate=settings.venue_failure_rate,
    )


async def _seed_pools(database_url: str) -> None:
    """Create the default pools if no worker has yet."""
    async with (
        Database(database_url, size=1, application_name="orders-worker") as db,
        db.connection() as conn,
    ):
        await seed_pools(conn)


def create_app(settings: WorkerSettings, registry: CollectorRegistry | None = None) -> Starlette:
    """Build the worker; nothing connects until the lifespan starts."""
    metrics = create_metrics(registry)
    checks: dict[str, Check] = {}

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        pool = create_pool(
            str(settings.database_url), size=settings.db_pool_size, application_name="orders-worker"
        )
        await pool.open()
        connection = await connect(settings.amqp_url, name="orders-worker")
        try:
            channel = await connection.channel(publisher_confirms=True)
            await channel.set_qos(prefetch_count=settings.worker_concurrency)
            topology = await declare(
                channel,
                delivery_limit=settings.amqp_delivery_limit,
                retry_base_delay_ms=settings.retry_base_delay_ms,
            )
            await _seed_pools(str(settings.database_url))
            latency = venue_latency(settings)
            parsed = ParsedPools()
            route_finder = RouteFinder(pool, settings, latency, metrics, parsed)
            # Events are doorbells (Postgres holds the record): a channel without publisher confirms
            # spares every step a round trip to the broker.
            doorbells = await connection.channel(publisher_confirms=False)
            pipeline = Pipeline(pool, route_finder, latency, Doorbell(doorbells), metrics, settings, parsed)
            consumer = Consumer(
                topology.execute,
                topology.orders,
                pipeline,
                metrics,
                settings.max_attempts,
                concurrency=settings.worker_concurrency,
            )
            checks["database"] = pool_check(pool)
            checks["rabbitmq"] = broker_check(connection)
            await consumer.start()
            try:
                yield
            finally:
                await consumer.stop(settings.shutdown_grace_s)
        finally:
            await connection.close()
            await pool.close()

    return Starlette(routes=probe_routes(lambda: checks, metrics.registry), lifespan=lifespan)
