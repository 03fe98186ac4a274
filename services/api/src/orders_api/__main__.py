"""`orders-api`: run the api in the foreground; SIGTERM drains in-flight requests.

With API_WORKERS > 1, uvicorn's supervisor runs that many api processes on one socket (each with its own
writer, relay and sweeper: they share the work through Postgres as replicas do) and their metrics are
merged through prometheus-client's multiprocess mode.
"""

from __future__ import annotations

import os
import shutil
import tempfile

import uvicorn
from starlette.types import ASGIApp
from uvicorn.supervisors import Multiprocess

from orders_api.app import create_app
from orders_api.settings import ApiSettings
from orders_shared.logging import configure_logging
from orders_shared.metrics import MULTIPROC_DIR
from orders_shared.serving import quiet_gc, reporting_unreachable, serve, server_config


def app_from_env() -> ASGIApp:
    """The app of one api process, from the environment (what each of API_WORKERS processes runs)."""
    settings = ApiSettings()
    configure_logging(settings.log_level, settings.log_format)
    app = create_app(settings)
    # uvicorn's worker processes are not started by `serve`, which would do this before serving.
    quiet_gc()
    # An import string is not wrapped by server_config: this process's app says Unreachable itself.
    return reporting_unreachable(app)


def main() -> None:
    """Read the settings, configure logging, serve until SIGTERM."""
    settings = ApiSettings()
    configure_logging(settings.log_level, settings.log_format)

    def config(app: object, **options: object) -> uvicorn.Config:
        return server_config(
            app,
            host=settings.api_host,
            port=settings.api_port,
            grace_s=settings.shutdown_grace_s,
            proxy_headers=True,
            **options,
        )

    if settings.api_workers == 1:
        serve(uvicorn.Server(config(create_app(settings))))
        return
    # Set before the processes start, so that each one's metrics go to files the others can read.
    metrics_dir = os.environ.get(MULTIPROC_DIR) or tempfile.mkdtemp(prefix="orders-api-metrics-")
    os.environ[MULTIPROC_DIR] = metrics_dir
    try:
        shared = config(f"{__name__}:app_from_env", factory=True, workers=settings.api_workers)
        Multiprocess(shared, sockets=[shared.bind_socket()]).run()
    finally:
        if metrics_dir.startswith(tempfile.gettempdir()):
            shutil.rmtree(metrics_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
