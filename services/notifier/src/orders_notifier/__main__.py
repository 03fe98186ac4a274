"""`orders-notifier`: run the notifier in the foreground."""

from __future__ import annotations

import asyncio
import socket

import uvicorn

from orders_notifier import protocol
from orders_notifier.app import create_app
from orders_notifier.hub import Hub
from orders_notifier.settings import NotifierSettings
from orders_shared.logging import configure_logging, get_logger
from orders_shared.serving import serve, server_config

log = get_logger()


class NotifierServer(uvicorn.Server):
    """uvicorn, but sockets are closed with 1001 (going away) before it drops them with 1012."""

    def __init__(self, config: uvicorn.Config, hub: Hub) -> None:
        super().__init__(config)
        self.hub = hub

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        """Tell every client to reconnect elsewhere, then shut down as uvicorn does."""
        try:
            await asyncio.wait_for(self.hub.close_all(protocol.GOING_AWAY), timeout=5)
        except TimeoutError:
            # Handled by what follows: uvicorn's shutdown drops the sockets still open (1012), and those
            # clients reconnect as well. Worth a line, as it means clients that would not take a close.
            log.warning("ws_close_all_timed_out", still_open=len(self.hub.sessions), timeout_s=5)
        await super().shutdown(sockets)


def main() -> None:
    """Read the settings, configure logging, serve WebSockets until SIGTERM."""
    settings = NotifierSettings()
    configure_logging(settings.log_level, settings.log_format)
    hub = Hub()
    config = server_config(
        create_app(settings, hub),
        host=settings.notifier_host,
        port=settings.notifier_port,
        grace_s=settings.shutdown_grace_s,
        ws_ping_interval=settings.ws_ping_interval_s,
        ws_ping_timeout=settings.ws_ping_interval_s,
        ws_max_size=4096,
    )
    serve(NotifierServer(config, hub))


if __name__ == "__main__":
    main()
