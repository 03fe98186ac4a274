"""The api's app factory: the lifespan owns the `Database`, the broker connection and the background tasks."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aio_pika
from aio_pika.abc import AbstractRobustConnection
from fastapi import FastAPI, Response
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from prometheus_client import CollectorRegistry

from orders_api import launch_routes, market_routes, routes
from orders_api.access import Gate
from orders_api.announce import EventAnnouncer
from orders_api.body_limit import BodySizeLimit
from orders_api.deps import STATE_KEY, AppState
from orders_api.ingest import OrderWriter
from orders_api.intake import OrderIntake
from orders_api.launch_routes import LAUNCHES_KEY, Launches
from orders_api.market_prices import SAMPLE_INTERVAL_S, MarketPrices
from orders_api.market_routes import MARKET_KEY
from orders_api.outbox import ExecutePublisher, OutboxRelay
from orders_api.periodic import every
from orders_api.problems import install_problem_handlers
from orders_api.rate_limits import RateLimit
from orders_api.security_headers import SecurityHeaders
from orders_api.service import OrderService
from orders_api.settings import ApiSettings
from orders_api.sweeper import Sweeper
from orders_shared.amqp import connect
from orders_shared.auth import KeyVerifier, Tickets
from orders_shared.db import Database
from orders_shared.launches import follow_launches, refresh
from orders_shared.logging import get_logger
from orders_shared.metrics import Metrics, create_metrics
from orders_shared.probes import Check, broker_check, database_check, probe_routes
from orders_shared.settings import ticket_secret
from orders_shared.topology import MARKET_EXCHANGE, declare
from orders_venues import Catalog

# The web page at `/`: static HTML, CSS and JavaScript, no build step.
PAGE = Path(__file__).parent / "static"
log = get_logger()


def create_app(settings: ApiSettings, registry: CollectorRegistry | None = None) -> OrderIntake:
    """Build the api; nothing connects until the lifespan starts."""
    metrics = create_metrics(registry)
    checks: dict[str, Check] = {}

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[dict[str, AppState | MarketPrices | Launches]]:
        # Postgres, then RabbitMQ, waited for up to STARTUP_TIMEOUT_S each (not serving, so not ready).
        async with Database.for_service(settings, "orders-api") as db:
            connection = await connect(
                settings.amqp_url, name="orders-api", startup_timeout_s=settings.startup_timeout_s
            )
            try:
                checks["database"] = database_check(db)
                checks["rabbitmq"] = broker_check(connection)
                # The tokens and pairs this process knows: the seeded ones, then each launch it learns.
                catalog = Catalog()
                market = MarketPrices(db, settings, catalog)
                async with _services(settings, metrics, db, connection, market, catalog) as state:
                    launches = await _launches(db, connection, metrics, catalog)
                    yield {STATE_KEY: state, MARKET_KEY: market, LAUNCHES_KEY: launches}
            finally:
                await connection.close()

    app = FastAPI(
        title="Order execution engine",
        summary="Market orders for Solana token swaps, routed to the venue that pays the most.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.include_router(routes.router)
    app.include_router(routes.quote_router)
    app.include_router(market_routes.router)
    app.include_router(launch_routes.router)
    app.router.routes.extend(probe_routes(lambda: checks, metrics.registry))
    _serve_page(app, settings)
    install_problem_handlers(app, metrics)
    cors = _add_middleware(app, settings, metrics)
    return OrderIntake(app, max_body_bytes=settings.max_body_bytes, enabled=not cors)


@asynccontextmanager
async def _services(
    settings: ApiSettings,
    metrics: Metrics,
    db: Database,
    connection: AbstractRobustConnection,
    market: MarketPrices,
    catalog: Catalog,
) -> AsyncIterator[AppState]:
    """The order service and the gate, with the writer, relay, sweeper and price sampler running behind
    them."""
    channel = await connection.channel(publisher_confirms=True)
    topology = await declare(
        channel, delivery_limit=settings.amqp_delivery_limit, retry_base_delay_ms=settings.retry_base_delay_ms
    )
    publisher = ExecutePublisher(db, channel, metrics)
    writer = OrderWriter(db, metrics, publisher, max_batch=settings.ingest_max_batch)
    relay = OutboxRelay(db, publisher, metrics, batch_size=settings.outbox_batch_size)
    sweeper = Sweeper(db, topology.orders, metrics, stuck_after_s=settings.stuck_after_s)
    gate = Gate(
        keys=KeyVerifier(db),
        tickets=Tickets(ticket_secret(settings)),
        auth_required=settings.auth_required,
        orders=RateLimit(settings.rate_limit_orders_per_s, settings.rate_limit_orders_burst),
        reads=RateLimit(settings.rate_limit_reads_per_s, settings.rate_limit_reads_burst),
    )
    background = {
        "order-writer": writer.run(),
        "outbox-relay": every(
            settings.outbox_poll_s,
            relay.drain,
            event="outbox_relay_failed",
            failures=metrics.publish_failures.labels(kind="execute"),
        ),
        "sweeper": every(
            settings.sweep_interval_s,
            sweeper.sweep_once,
            event="sweep_failed",
            failures=metrics.internal_errors.labels(where="sweeper"),
        ),
        "price-sampler": every(
            SAMPLE_INTERVAL_S,
            market.sample_once,
            event="price_sample_failed",
            failures=metrics.internal_errors.labels(where="price_sampler"),
        ),
    }
    async with _running(background, metrics):
        announcer = EventAnnouncer(topology.events, metrics)
        orders = OrderService(db, writer, metrics, settings, catalog, events=announcer)
        yield AppState(orders=orders, gate=gate)


async def _launches(
    db: Database, connection: AbstractRobustConnection, metrics: Metrics, catalog: Catalog
) -> Launches:
    """The launches service, with this replica following `TokenLaunched` and ``catalog`` knowing every
    launch so far."""
    channel = await connection.channel(publisher_confirms=True)
    market = await channel.declare_exchange(MARKET_EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True)
    await follow_launches(channel, market, metrics, catalog)
    async with db.connection() as conn:
        await refresh(conn, catalog)
    return Launches(db, market, metrics, catalog)


@asynccontextmanager
async def _running(coroutines: dict[str, Coroutine[Any, Any, None]], metrics: Metrics) -> AsyncIterator[None]:
    """Run the coroutines as tasks for the block; one that ends with an error is logged and counted."""

    def report(task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            metrics.internal_errors.labels(where=task.get_name()).inc()
            log.error("background_task_failed", task=task.get_name(), exc_info=task.exception())

    tasks = [asyncio.create_task(coroutine, name=name) for name, coroutine in coroutines.items()]
    for task in tasks:
        task.add_done_callback(report)
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        # Each task's error, if it had one, was reported by its callback.
        await asyncio.wait(tasks)


def _serve_page(app: FastAPI, settings: ApiSettings) -> None:
    """The web page at `/`, its settings at `/config.js` and its files under `/static`."""

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        """The web page: quote, submit, and watch orders live."""
        return FileResponse(PAGE / "index.html")

    @app.get("/config.js", include_in_schema=False)
    async def page_config() -> Response:
        """The page's settings: the notifier's public WebSocket URL (unset: the page guesses port 8001)."""
        ws_url = settings.public_ws_url or None
        body = f"window.ORDERS_CONFIG = {json.dumps({'wsUrl': ws_url})};\n"
        return Response(body, media_type="text/javascript", headers={"Cache-Control": "no-store"})

    app.mount("/static", StaticFiles(directory=PAGE), name="static")


def _add_middleware(app: FastAPI, settings: ApiSettings, metrics: Metrics) -> bool:
    """CORS (when origins are allowed), the body cap and the security headers; whether CORS is on."""
    origins = [o.strip() for o in settings.cors_allow_origins.split(",") if o.strip()]
    if origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=["GET", "POST", "DELETE"],  # DELETE: cancel an order
            allow_headers=["Authorization", "X-API-Key", "Content-Type", "Idempotency-Key"],
            max_age=600,
        )
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes, metrics=metrics)
    app.add_middleware(SecurityHeaders)
    return bool(origins)
