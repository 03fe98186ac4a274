"""Finding a route: every venue asked at once, those that fail or are late left out, routed on the rest."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from decimal import Decimal

from orders_shared.decision import Decision, decide, settled
from orders_shared.errors import NoRoute, TransientVenueError, VenueError
from orders_shared.logging import get_logger
from orders_shared.repository import read_pools
from orders_venues import VENUES, Unroutable, orient
from orders_venues.tokens import Token
from orders_worker.resources import Resources

log = get_logger()


@dataclass(slots=True)
class RouteFinder:
    """Routes orders on the pools in Postgres; one instance per worker."""

    res: Resources

    async def _answers(self, venue: str) -> bool:
        started = time.perf_counter()
        metrics = self.res.metrics
        try:
            async with asyncio.timeout(self.res.settings.venue_quote_timeout_ms / 1000):
                await self.res.latency.quote(venue)
        except TimeoutError:
            metrics.venue_errors.labels(venue=venue, kind="timeout").inc()
            log.warning("venue_quote_timeout", venue=venue)
            return False
        except VenueError as exc:
            metrics.venue_errors.labels(venue=venue, kind="error").inc()
            log.warning("venue_quote_failed", venue=venue, error=str(exc))
            return False
        metrics.quote_duration.labels(venue=venue).observe(time.perf_counter() - started)
        return True

    async def decide(
        self, token_in: Token, token_out: Token, amount_in: Decimal, slippage_bps: int
    ) -> Decision:
        """Quote the venues that answer in time and choose the route."""
        answered = await asyncio.gather(*(self._answers(v) for v in VENUES))
        venues = [v for v, ok in zip(VENUES, answered, strict=True) if ok]
        if not venues:
            raise TransientVenueError("no venue answered with a quote")
        try:
            side = orient(token_in.symbol, token_out.symbol, self.res.catalog)
        except Unroutable as exc:
            raise NoRoute(str(exc)) from None
        async with self.res.db.connection() as conn:
            state = await read_pools(conn, side.pair, self.res.parsed, self.res.catalog)
        now = int(time.time())
        current = settled(state, self.res.settings, now, self.res.catalog)
        try:
            decision = decide(current, side, token_in, token_out, amount_in, slippage_bps, now, venues)
        except NoRoute:
            if len(venues) < len(VENUES):
                # A venue that did not answer might have filled it: worth another attempt, not a final no.
                raise TransientVenueError("the venues that answered cannot fill the order") from None
            raise
        self.res.metrics.routing_decisions.labels(venue=decision.dex_chosen).inc()
        return decision
