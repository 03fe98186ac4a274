"""Running an ASGI app under uvicorn: a graceful stop on SIGTERM exits 0, the collector tuned for a server."""

from __future__ import annotations

import gc
import signal
import sys
from typing import Any

import uvicorn
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from orders_shared.logging import get_logger
from orders_shared.reach import Unreachable


def serve(server: uvicorn.Server) -> None:
    """Run ``server`` in the foreground until SIGINT or SIGTERM; a drained stop exits 0.

    uvicorn catches the signal, drains, puts back the handlers it found and raises the signal again, so
    that a process with the default handler dies "killed by SIGTERM" (exit 143 in a container) although
    it drained everything. The handler it finds is the server's own `handle_exit`: raised again after the
    stop, it changes nothing, and the process ends normally. Installed before the server starts, it also
    turns a signal that arrives during start-up into a stop once started.
    """
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, server.handle_exit)
    quiet_gc()
    server.run()


# Collect the youngest generation every 50,000 net allocations instead of 700. With the default, a request
# that allocates a few thousand short-lived objects (pydantic, ASGI dicts) triggers collections that, every
# tenth or hundredth time, walk the whole heap: ingest p99 fell from 81 to 15 ms and throughput rose ~20%.
GC_THRESHOLDS = (50_000, 20, 100)


def quiet_gc() -> None:
    """Freeze what start-up allocated (never garbage) out of the collector's sight, and collect less often."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def reporting_unreachable(app: ASGIApp) -> ASGIApp:
    """``app``, whose start-up, when it fails on a dependency it could not reach, logs the message only.

    Starlette reports a failed lifespan to uvicorn with the exception's traceback, which uvicorn logs;
    for `Unreachable` the traceback says nothing a person needs, so the message goes out as one log
    event instead and uvicorn gets none to print ("Application startup failed. Exiting.", exit 3).
    """

    async def gated(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await app(scope, receive, send)
            return

        async def send_reported(message: Message) -> None:
            # Starlette sends startup.failed from inside its `except` block: the error is the one handled.
            error = sys.exc_info()[1]
            if message["type"] == "lifespan.startup.failed" and isinstance(error, Unreachable):
                log_unreachable(error)
                message = {"type": "lifespan.startup.failed", "message": ""}
            await send(message)

        await app(scope, receive, send_reported)

    return gated


def log_unreachable(error: Unreachable) -> None:
    """The one error event of a service that gave up waiting for Postgres or RabbitMQ."""
    get_logger().error(
        "dependency_unreachable",
        setting=error.dependency.setting,
        url=error.dependency.shown,
        failure=error.failure.value,
        message=error.message(),
    )


def server_config(app: Any, *, host: str, port: int, grace_s: float, **options: Any) -> uvicorn.Config:
    """The uvicorn settings every service shares: our logging, no access log, a bounded drain.

    An app given as an object (not an import string) reports an unreachable dependency in one event.
    """
    return uvicorn.Config(
        app if isinstance(app, str) else reporting_unreachable(app),
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=max(1, int(grace_s) + 1),
        timeout_keep_alive=5,
        **options,
    )
