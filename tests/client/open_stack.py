"""One stack with an open API (AUTH_REQUIRED=false) for the client, browser and Postman tests.

Those tests drive the engine as a newcomer would, without an API key, so they need an api and a notifier
that let anonymous callers in, whatever the suite's own stack requires. The stack has a database and a
vhost of its own: the demo's large orders move pools, which other tests must find as the migration left
them. Each of the three test folders asks for it through a session fixture; the first starts it and the
last to finish stops it, so a run pays for one stack, not three.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from orders_shared.auth import create_key
from orders_shared.db import Database
from tests.support.infra import throwaway_database, throwaway_vhost
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


def _start(log_dir: Path, cleanup: ExitStack) -> Stack:
    database_url = cleanup.enter_context(throwaway_database("orders_open"))
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
def open_stack(log_dir: Path) -> Iterator[Stack]:
    """The shared open stack, started on first use."""
    if _shared.users == 0:
        cleanup = ExitStack()
        try:
            _shared.stack = _start(log_dir, cleanup)
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


async def new_api_key(stack: Stack, name: str) -> str:
    """A real API key of a new client, stored in the stack's database."""
    database = Database(stack.env["DATABASE_URL"], size=1, application_name="orders-tests")
    async with database as db, db.connection() as conn:
        _, _, key = await create_key(conn, name)
    return key
