"""`orders-worker`: run a worker in the foreground; SIGTERM drains it."""

from __future__ import annotations

import uvicorn

from orders_shared.logging import configure_logging
from orders_shared.settings import WorkerSettings
from orders_worker.app import create_app


def main() -> None:
    """Read the settings, configure logging, consume until SIGTERM."""
    settings = WorkerSettings()
    configure_logging(settings.log_level, settings.log_format)
    uvicorn.run(
        create_app(settings),
        host=settings.worker_host,
        port=settings.worker_port,
        log_config=None,
        access_log=False,
        # The lifespan's shutdown does the draining; uvicorn must wait for it.
        timeout_graceful_shutdown=int(settings.shutdown_grace_s) + 5,
    )


if __name__ == "__main__":
    main()
