"""Who is calling and how much they may ask: API keys, per-key rate limits, security headers.

Rate limits are token buckets kept in each api process: a budget per replica (N replicas admit N times
the rate). That is documented rather than hidden; a shared budget would need a shared store (Redis).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from orders_shared.errors import EngineError


class Unauthorized(EngineError):
    """No API key, or one that is not valid."""

    code = "UNAUTHORIZED"


class RateLimited(EngineError):
    """The key has used its budget; ``retry_after_s`` until a token is back."""

    code = "RATE_LIMITED"

    def __init__(self, limit: int, retry_after_s: float) -> None:
        super().__init__(f"rate limit of {limit} requests reached; retry in {math.ceil(retry_after_s)} s")
        self.limit = limit
        self.retry_after_s = retry_after_s


@dataclass(slots=True)
class TokenBucket:
    """``rate`` tokens a second up to ``burst``, per client."""

    rate: float
    burst: int
    _state: dict[str, tuple[float, float]] = field(default_factory=dict)

    def take(self, client: str, now: float | None = None) -> tuple[int, float]:
        """Spend one token: (tokens left, seconds until full); raises RateLimited when none is left."""
        at = time.monotonic() if now is None else now
        tokens, last = self._state.get(client, (float(self.burst), at))
        tokens = min(float(self.burst), tokens + (at - last) * self.rate)
        if tokens < 1:
            self._state[client] = (tokens, at)
            raise RateLimited(self.burst, (1 - tokens) / self.rate)
        tokens -= 1
        if len(self._state) > 100_000:
            self._state.clear()  # bounded memory; a cleared bucket starts full, which only forgives
        self._state[client] = (tokens, at)
        return int(tokens), (self.burst - tokens) / self.rate


def rate_limit_headers(limit: int, remaining: int, reset_s: float) -> dict[str, str]:
    """The IETF RateLimit-* fields."""
    return {
        "RateLimit-Limit": str(limit),
        "RateLimit-Remaining": str(remaining),
        "RateLimit-Reset": str(math.ceil(reset_s)),
    }


SECURITY_HEADERS: list[tuple[bytes, bytes]] = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (
        b"content-security-policy",
        b"default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; frame-ancestors 'none'",
    ),
]

# What every response under /api/ carries.
API_HEADERS: list[tuple[bytes, bytes]] = [*SECURITY_HEADERS, (b"cache-control", b"no-store")]


class SecurityHeaders:
    """Adds the security headers to every HTTP response, and `Cache-Control: no-store` to the API's."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        api = scope["path"].startswith("/api/")

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.extend(API_HEADERS if api else SECURITY_HEADERS)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)
