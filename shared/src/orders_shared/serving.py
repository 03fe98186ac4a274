"""Running an ASGI app under uvicorn so that a graceful stop on SIGTERM exits 0."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import Any

import uvicorn


class GracefulServer(uvicorn.Server):
    """uvicorn's server without re-raising the caught signal at the end.

    uvicorn re-raises SIGTERM after a clean shutdown, so the process dies "killed by SIGTERM" (exit 143
    in a container) although it drained everything. For us a drained stop is a success: exit 0.
    """

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """Route SIGINT and SIGTERM to a graceful exit, then restore the previous handlers."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        handled = (signal.SIGINT, signal.SIGTERM)
        original = {sig: signal.signal(sig, self.handle_exit) for sig in handled}
        try:
            yield
        finally:
            for sig, handler in original.items():
                signal.signal(sig, handler)


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
