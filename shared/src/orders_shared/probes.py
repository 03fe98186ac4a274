"""`/healthz`, `/readyz` and `/metrics`, the same on every service."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping

from aio_pika.abc import AbstractConnection
from prometheus_client import CollectorRegistry
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from orders_shared.db import Database
from orders_shared.metrics import render

Check = Callable[[], Awaitable[bool]]


def _answers(probe: Callable[[], Awaitable[object]], timeout: float) -> Check:
    """A check that passes when ``probe`` completes within ``timeout``."""

    async def check() -> bool:
        try:
            async with asyncio.timeout(timeout):
                await probe()
        except Exception:  # noqa: BLE001  # whatever the failure, the answer is "not ready"
            return False
        return True

    return check


def database_check(db: Database, timeout: float = 2.0) -> Check:
    """A readiness check that Postgres answers a query on one of the service's connections."""
    return _answers(db.ping, timeout)


def broker_check(connection: AbstractConnection) -> Check:
    """A readiness check that the (robust) RabbitMQ connection is up."""

    async def check() -> bool:
        # A robust connection is not "closed" while it reconnects; `connected` says whether it is up.
        return connection.connected.is_set() and not connection.is_closed

    return check


def probe_routes(checks: Callable[[], Mapping[str, Check]], registry: CollectorRegistry) -> list[Route]:
    """Routes for liveness, readiness (each check must pass) and the metrics of ``registry``."""

    async def healthz(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(_: Request) -> Response:
        named = checks()
        results = await asyncio.gather(*(check() for check in named.values()))
        body = {name: ("ok" if ok else "unavailable") for name, ok in zip(named, results, strict=True)}
        return JSONResponse(body, status_code=200 if all(results) else 503)

    async def metrics(_: Request) -> Response:
        payload, content_type = render(registry)
        return Response(payload, media_type=content_type)

    return [
        Route("/healthz", healthz, methods=["GET"], include_in_schema=False),
        Route("/readyz", readyz, methods=["GET"], include_in_schema=False),
        Route("/metrics", metrics, methods=["GET"], include_in_schema=False),
    ]
