"""The api's background passes (the outbox relay, the sweeper): one every interval until cancelled."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from prometheus_client import Counter

from orders_shared.logging import get_logger

log = get_logger()
# After a failed pass, the wait before the next one grows from the interval by this much, up to MAX_BACKOFF_S.
FIRST_BACKOFF_S = 0.1
MAX_BACKOFF_S = 5.0


async def every(
    interval_s: float, step: Callable[[], Awaitable[object]], *, event: str, failures: Counter
) -> None:
    """Run ``step`` every ``interval_s`` until cancelled.

    A failed pass (the broker or the database away) is logged as ``event`` and counted in ``failures``;
    the next one tries again, a little later each time until one succeeds.
    """
    backoff = 0.0
    while True:
        await asyncio.sleep(interval_s + backoff)
        try:
            await step()
        except asyncio.CancelledError:
            raise
        except Exception:
            backoff = min(max(backoff * 2, FIRST_BACKOFF_S), MAX_BACKOFF_S)
            failures.inc()
            log.warning(event, exc_info=True, retry_in_s=interval_s + backoff)
        else:
            backoff = 0.0
