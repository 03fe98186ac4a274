"""Who is calling and how much they may ask: the api's `Gate` (API keys, per-client rate limits)."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.datastructures import Headers

from orders_api.rate_limits import RateLimit
from orders_shared.auth import ANONYMOUS, KeyVerifier, Tickets, bearer
from orders_shared.errors import EngineError


class Unauthorized(EngineError):
    """No API key, or one that is not valid."""

    code = "UNAUTHORIZED"


@dataclass(frozen=True, slots=True)
class Gate:
    """Authentication and per-client limits of the REST api, built in the lifespan."""

    keys: KeyVerifier
    tickets: Tickets
    auth_required: bool
    orders: RateLimit
    reads: RateLimit

    async def admit(self, headers: Headers, limit: RateLimit) -> tuple[str, dict[str, str]]:
        """The client behind ``headers``, charged one request of ``limit``, and the RateLimit-* headers.

        Raises Unauthorized (no key where one is required, or a key that is not valid) or RateLimited.
        """
        key = bearer(headers.get("authorization"), headers.get("x-api-key"))
        if key is None:
            if self.auth_required:
                raise Unauthorized("an API key is required: Authorization: Bearer <key>")
            client = ANONYMOUS
        else:
            found = await self.keys.client_for(key)
            if found is None:
                raise Unauthorized("the API key is not valid")
            client = found
        return client, limit.charge(client)
