"""Per-client rate limits of the REST api (the `limits` library): a budget, and the RateLimit-* headers.

A budget is ``burst`` requests in a fixed window of ``burst / rate`` seconds (whole seconds, rounded up),
per client: ``rate`` a second on average, ``burst`` at once. The windows are kept in each api process
(`limits`' in-memory storage, which forgets a client's window when it ends): a budget per replica (N
replicas admit N times the rate). That is documented rather than hidden; a shared budget would need a
shared store (`limits` speaks Redis).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from limits import RateLimitItem, RateLimitItemPerSecond
from limits.storage import MemoryStorage
from limits.strategies import FixedWindowRateLimiter

from orders_shared.errors import EngineError


class RateLimited(EngineError):
    """The client has used its budget; ``retry_after_s`` until a request is allowed again."""

    code = "RATE_LIMITED"

    def __init__(self, limit: int, retry_after_s: float) -> None:
        super().__init__(f"rate limit of {limit} requests reached; retry in {math.ceil(retry_after_s)} s")
        self.limit = limit
        self.retry_after_s = retry_after_s


@dataclass(frozen=True, slots=True)
class RateLimit:
    """``rate`` requests a second, up to ``burst`` at once, per client."""

    item: RateLimitItem
    limiter: FixedWindowRateLimiter

    @classmethod
    def per_second(cls, name: str, rate: float, burst: int, storage: MemoryStorage) -> RateLimit:
        """``burst`` requests per ``burst / rate`` seconds, kept in ``storage`` apart from other names'."""
        item = RateLimitItemPerSecond(burst, math.ceil(burst / rate), namespace=name)
        return cls(item, FixedWindowRateLimiter(storage))

    def charge(self, client: str) -> dict[str, str]:
        """Spend one request of ``client``'s budget: the RateLimit-* headers; RateLimited if none is left."""
        allowed = self.limiter.hit(self.item, client)
        reset_at, remaining = self.limiter.get_window_stats(self.item, client)
        reset_s = max(reset_at - time.time(), 0.0)
        if not allowed:
            raise RateLimited(self.item.amount, reset_s)
        return rate_limit_headers(self.item.amount, remaining, reset_s)


def rate_limit_headers(limit: int, remaining: int, reset_s: float) -> dict[str, str]:
    """The IETF RateLimit-* fields."""
    return {
        "RateLimit-Limit": str(limit),
        "RateLimit-Remaining": str(remaining),
        "RateLimit-Reset": str(math.ceil(reset_s)),
    }
