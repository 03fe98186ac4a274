"""`orders-notifier`: run the notifier in the foreground."""

from __future__ import annotations

import uvicorn

from orders_notifier.app import create_app
from orders_shared.logging import configure_logging
from orders_shared.settings import NotifierSettings


def main() -> None:
    """Read the settings, configure logging, serve WebSockets until SIGTERM."""
    settings = NotifierSettings()
    configure_logging(settings.log_level, settings.log_format)
    uvicorn.run(
        create_app(settings),
        host=settings.notifier_host,
        port=settings.notifier_port,
        log_config=None,
        access_log=False,
        ws_ping_interval=settings.ws_ping_interval_s,
        ws_ping_timeout=settings.ws_ping_interval_s,
        ws_max_size=4096,
        timeout_graceful_shutdown=int(settings.shutdown_grace_s),
    )


if __name__ == "__main__":
    main()
