"""The notifier's app factory: the lifespan owns the database pools, this replica's event queue, the hub."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from orders_notifier import protocol, routes
from orders_notifier.access import Gate
from orders_notifier.hub import Hub
from orders_notifier.settings import NotifierSettings
from orders_notifier.subscriber import subscribe
from orders_shared.amqp import connect
from orders_shared.auth import KeyVerifier, Tickets
from orders_shared.db import Database, create_pool
from orders_shared.metrics import create_metrics
from orders_shared.probes import Check, broker_check, pool_check, probe_routes
from orders_shared.settings import ticket_secret
from orders_shared.topology import declare


def create_app(
    settings: NotifierSettings, hub: Hub | None = None, registry: CollectorRegistry | None = None
) -> FastAPI:
    """Build the notifier; nothing connects until the lifespan starts."""
    metrics = create_metrics(registry)
    hub = hub if hub is not None else Hub()
    checks: dict[str, Check] = {}

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[Mapping[str, Any]]:
        # The engine checks API keys; sessions (and the readiness probe) read on the psycopg pool.
        keys_db = Database(str(settings.database_url), size=2, application_name="orders-notifier-keys")
        await keys_db.open()
        pool = create_pool(
            str(settings.database_url), size=settings.db_pool_size, application_name="orders-notifier"
        )
        await pool.open()
        connection = await connect(settings.amqp_url, name="orders-notifier")
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
            checks["database"] = pool_check(pool)
            checks["rabbitmq"] = broker_check(connection)
            gate = Gate(
                keys=KeyVerifier(keys_db),
                tickets=Tickets(ticket_secret(settings)),
                auth_required=settings.auth_required,
                max_connections_per_client=settings.ws_max_connections_per_client,
                max_subscriptions=settings.ws_max_subscriptions,
                messages_per_s=settings.ws_max_messages_per_s,
            )
            resync = asyncio.create_task(_resync_every(hub, settings.ws_resync_s), name="ws-resync")
            try:
                state = {
                    "hub": hub,
                    # Sessions read on the psycopg pool: one autocommit statement each.
                    "pool": pool,
                    "metrics": metrics,
                    "send_queue": settings.ws_send_queue,
                }
                yield {**state, "gate": gate}
            finally:
                resync.cancel()
                await hub.close_all(protocol.GOING_AWAY)
        finally:
            await connection.close()
            await pool.close()
            await keys_db.close()

    app = FastAPI(
        title="Order engine notifier", version="0.1.0", lifespan=lifespan, docs_url=None, redoc_url=None
    )
    app.include_router(routes.router)
    app.router.routes.extend(probe_routes(lambda: checks, metrics.registry))
    return app


async def _resync_every(hub: Hub, interval_s: float) -> None:
    # A lost doorbell (a publish that failed after its commit) must not leave a client waiting forever.
    while True:
        await asyncio.sleep(interval_s)
        hub.resync_all()
