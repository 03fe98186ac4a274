"""`orders-worker`: run a worker in the foreground; SIGTERM drains it."""

from __future__ import annotations

import uvicorn

from orders_shared.logging import configure_logging
from orders_shared.serving import serve, server_config
from orders_worker.app import create_app
from orders_worker.settings import WorkerSettings


def main() -> None:
    """Read the settings, configure logging, consume until SIGTERM."""
    settings = WorkerSettings()
    configure_logging(settings.log_level, settings.log_format)
    # The lifespan's shutdown drains the consumer within SHUTDOWN_GRACE_S.
    config = server_config(
        create_app(settings),
        host=settings.worker_host,
        port=settings.worker_port,
        grace_s=settings.shutdown_grace_s,
    )
    serve(uvicorn.Server(config))


if __name__ == "__main__":
    main()
