"""`orders-api`: run the api in the foreground."""

from __future__ import annotations

import uvicorn

from orders_api.app import create_app
from orders_shared.logging import configure_logging
from orders_shared.settings import ApiSettings


def main() -> None:
    """Read the settings, configure logging, serve until SIGTERM."""
    settings = ApiSettings()
    configure_logging(settings.log_level, settings.log_format)
    uvicorn.run(
        create_app(settings),
        host=settings.api_host,
        port=settings.api_port,
        log_config=None,
        access_log=False,
        proxy_headers=True,
        timeout_graceful_shutdown=int(settings.shutdown_grace_s),
        timeout_keep_alive=5,
    )


if __name__ == "__main__":
    main()
