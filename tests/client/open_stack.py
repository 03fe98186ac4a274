"""One stack with an open API (AUTH_REQUIRED=false) for the client, browser and Postman tests.

Those tests drive the engine as a newcomer would, without an API key, so they need an api and a notifier
that let anonymous callers in, whatever the suite's own stack requires. Each of the three test folders
asks for it through a session fixture; the first starts it and the last to finish stops it, so a run
pays for one stack, not three.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.support.infra import throwaway_vhost
from tests.support.services import Stack, start_service, wait_ready

OPEN_SETTINGS = {
    "AUTH_REQUIRED": "false",
    "LOG_LEVEL": "info",
    # Fast venues: these tests look at the flow, not at the assignment's latencies.
    "VENUE_QUOTE_LATENCY_MS": "5-20",
    "VENUE_EXECUTE_LATENCY_MS": "50-150",
}


@dataclass
class _Shared:
    users: int = 0
    stack: Stack | None = None
    cleanup: ExitStack | None = None


_shared = _Shared()


def _start(database_url: str, log_dir: Path, cleanup: ExitStack) -> Stack:
    amqp_url = cleanup.enter_context(throwaway_vhost("orders-open"))
    stack = Stack(env={"DATABASE_URL": database_url, "AMQP_URL": amqp_url, **OPEN_SETTINGS})
    # The notifier first, so the api can tell the page where it is (PUBLIC_WS_URL; ignored by an api
    # without that setting, and then the page is given `?ws=`).
    for name in ("notifier", "api", "worker"):
        env = dict(stack.env)
        if name == "api":
            env["PUBLIC_WS_URL"] = stack.ws
        service = start_service(name, env, log_dir)
        cleanup.callback(service.stop)
        stack.services[name] = service
    for service in stack.services.values():
        wait_ready(service)
    return stack


@contextmanager
def open_stack(database_url: str, log_dir: Path) -> Iterator[Stack]:
    """The shared open stack (its own vhost, the run's database), started on first use."""
    if _shared.users == 0:
        cleanup = ExitStack()
        try:
            _shared.stack = _start(database_url, log_dir, cleanup)
        except BaseException:
            cleanup.close()
            raise
        _shared.cleanup = cleanup
    assert _shared.stack is not None
    _shared.users += 1
    try:
        yield _shared.stack
    finally:
        _shared.users -= 1
        if _shared.users == 0 and _shared.cleanup is not None:
            cleanup, _shared.cleanup, _shared.stack = _shared.cleanup, None, None
            cleanup.close()
