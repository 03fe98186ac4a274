"""The api's app factory: the lifespan owns the database engine, the broker connection and the relay."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Response
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from prometheus_client import CollectorRegistry

from orders_api import routes
from orders_api.deps import Guard, document_api_keys
from orders_api.ingest import OrderWriter
from orders_api.intake import OrderIntake
from orders_api.limits import BodySizeLimit
from orders_api.outbox import ExecutePublisher, OutboxRelay
from orders_api.problems import install_problem_handlers
from orders_api.security import SecurityHeaders, TokenBucket
from orders_api.service import OrderService
from orders_api.settings import ApiSettings
from orders_api.sweeper import Sweeper
from orders_shared.amqp import connect
from orders_shared.auth import KeyVerifier, Tickets
from orders_shared.db import Database, create_engine
from orders_shared.metrics import create_metrics
from orders_shared.probes import Check, broker_check, database_check, probe_routes
from orders_shared.settings import ticket_secret
from orders_shared.topology import declare

# The web page at `/`: static HTML, CSS and JavaScript, no build step.
PAGE = Path(__file__).parent / "static"


def create_app(settings: ApiSettings, registry: CollectorRegistry | None = None) -> OrderIntake:
    """Build the api; nothing connects until the lifespan starts."""
    metrics = create_metrics(registry)
    checks: dict[str, Check] = {}

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[Mapping[str, Any]]:
        engine = create_engine(
            str(settings.database_url), pool_size=settings.db_pool_size, application_name="orders-api"
        )
        db = Database(str(settings.database_url), size=2, application_name="orders-api")
        await db.open()
        connection = await connect(settings.amqp_url, name="orders-api")
        try:
            channel = await connection.channel(publisher_confirms=True)
            topology = await declare(
                channel,
                delivery_limit=settings.amqp_delivery_limit,
                retry_base_delay_ms=settings.retry_base_delay_ms,
            )
            publisher = ExecutePublisher(engine, channel, metrics)
            relay = OutboxRelay(
                engine,
                publisher,
                metrics,
                batch_size=settings.outbox_batch_size,
                poll_s=settings.outbox_poll_s,
            )
            sweeper = Sweeper(
                engine,
                topology.orders,
                metrics,
                stuck_after_s=settings.stuck_after_s,
                interval_s=settings.sweep_interval_s,
            )
            writer = OrderWriter(engine, metrics, publisher, max_batch=settings.ingest_max_batch)
            checks["database"] = database_check(db)
            checks["rabbitmq"] = broker_check(connection)
            tasks = [
                asyncio.create_task(relay.run(), name="outbox-relay"),
                asyncio.create_task(sweeper.run(), name="sweeper"),
                asyncio.create_task(writer.run(), name="order-writer"),
            ]
            try:
                guard = Guard(
                    keys=KeyVerifier(db),
                    tickets=Tickets(ticket_secret(settings)),
                    auth_required=settings.auth_required,
                    orders=TokenBucket(settings.rate_limit_orders_per_s, settings.rate_limit_orders_burst),
                    reads=TokenBucket(settings.rate_limit_reads_per_s, settings.rate_limit_reads_burst),
                )
                yield {"orders": OrderService(engine, writer, metrics, settings, db), "guard": guard}
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
        finally:
            await connection.close()
            await engine.dispose()
            await db.close()

    app = FastAPI(
        title="Order execution engine",
        summary="Market orders for Solana token swaps, routed to the venue that pays the most.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.include_router(routes.router)
    app.include_router(routes.quote_router)
    document_api_keys(app)
    app.router.routes.extend(probe_routes(lambda: checks, metrics.registry))

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
    install_problem_handlers(app, metrics)
    origins = [o.strip() for o in settings.cors_allow_origins.split(",") if o.strip()]
    if origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "X-API-Key", "Content-Type", "Idempotency-Key"],
            max_age=600,
        )
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(SecurityHeaders)
    return OrderIntake(app, max_body_bytes=settings.max_body_bytes, enabled=not origins)
