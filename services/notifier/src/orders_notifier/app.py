"""The notifier's app factory: the lifespan owns the database, this replica's event queue and the hub."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from aio_pika.abc import AbstractRobustConnection
from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from orders_notifier import protocol, routes
from orders_notifier.access import Gate
from orders_notifier.hub import Hub
from orders_notifier.settings import NotifierSettings
from orders_notifier.state import NotifierState
from orders_notifier.subscriber import subscribe
from orders_shared.amqp import connect
from orders_shared.db import Database
from orders_shared.logging import get_logger
from orders_shared.metrics import Metrics, create_metrics
from orders_shared.probes import Check, broker_check, database_check, probe_routes
from orders_shared.topology import declare

log = get_logger()


def create_app(
    settings: NotifierSettings, hub: Hub | None = None, registry: CollectorRegistry | None = None
) -> FastAPI:
    """Build the notifier; nothing connects until the lifespan starts."""
    metrics = create_metrics(registry)
    hub = hub if hub is not None else Hub()
    checks: dict[str, Check] = {}

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[dict[str, NotifierState]]:
        async with AsyncExitStack() as stack:
            # Sessions, key checks and the readiness probe read on the same connections.
            # Postgres, then RabbitMQ, waited for up to STARTUP_TIMEOUT_S each (not serving, so not ready).
            db = await stack.enter_async_context(Database.for_service(settings, "orders-notifier"))
            connection = await _listen(settings, hub, metrics)
            stack.push_async_callback(connection.close)
            checks["database"] = database_check(db)
            checks["rabbitmq"] = broker_check(connection)
            state = NotifierState(hub, db, metrics, Gate.build(settings, db), settings.ws_send_queue)
            async with _resyncing(hub, metrics, settings.ws_resync_s):
                try:
                    yield {"notifier": state}
                finally:
                    await hub.close_all(protocol.GOING_AWAY)

    app = FastAPI(
        title="Order engine notifier", version="0.1.0", lifespan=lifespan, docs_url=None, redoc_url=None
    )
    app.include_router(routes.router)
    app.router.routes.extend(probe_routes(lambda: checks, metrics.registry))
    return app


async def _listen(settings: NotifierSettings, hub: Hub, metrics: Metrics) -> AbstractRobustConnection:
    """This replica's connection to RabbitMQ, its queue on `order.events` feeding ``hub``."""
    connection = await connect(
        settings.amqp_url, name="orders-notifier", startup_timeout_s=settings.startup_timeout_s
    )
    # Events published while this replica was cut off from RabbitMQ are in Postgres only.
    connection.reconnect_callbacks.add(lambda *_: hub.resync_all())
    try:
        channel = await connection.channel(publisher_confirms=False)
        topology = await declare(
            channel,
            delivery_limit=settings.amqp_delivery_limit,
            retry_base_delay_ms=settings.retry_base_delay_ms,
        )
        await subscribe(channel, topology.events, hub, metrics)
    except BaseException:
        await connection.close()
        raise
    return connection


@asynccontextmanager
async def _resyncing(hub: Hub, metrics: Metrics, interval_s: float) -> AsyncIterator[None]:
    """Every socket looks in Postgres for what the broker did not bring, every ``interval_s``, while the
    block runs: a lost doorbell (a publish that failed after its commit) must not leave a client waiting."""

    async def resync_every() -> None:
        while True:
            await asyncio.sleep(interval_s)
            hub.resync_all()

    task = asyncio.create_task(resync_every(), name="ws-resync")
    try:
        yield
    finally:
        task.cancel()
        await asyncio.wait({task})
        if not task.cancelled() and task.exception() is not None:
            metrics.internal_errors.labels(where="notifier_resync").inc()
            log.error("ws_resync_failed", exc_info=task.exception())
