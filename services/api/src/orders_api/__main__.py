"""`orders-api`: run the api in the foreground; SIGTERM drains in-flight requests."""

from __future__ import annotations

from orders_api.app import create_app
from orders_shared.logging import configure_logging
from orders_shared.serving import GracefulServer, server_config
from orders_shared.settings import ApiSettings


def main() -> None:
    """Read the settings, configure logging, serve until SIGTERM."""
    settings = ApiSettings()
    configure_logging(settings.log_level, settings.log_format)
    config = server_config(
        create_app(settings),
        host=settings.api_host,
        port=settings.api_port,
        grace_s=settings.shutdown_grace_s,
        proxy_headers=True,
    )
    GracefulServer(config).run()


if __name__ == "__main__":
    main()
