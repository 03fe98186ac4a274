"""Running an ASGI app under uvicorn: a graceful stop on SIGTERM exits 0, the collector tuned for a server."""

from __future__ import annotations

import gc
import signal
from typing import Any

import uvicorn


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


def server_config(app: Any, *, host: str, port: int, grace_s: float, **options: Any) -> uvicorn.Config:
    """The uvicorn settings every service shares: our logging, no access log, a bounded drain."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=max(1, int(grace_s) + 1),
        timeout_keep_alive=5,
        **options,
    )
