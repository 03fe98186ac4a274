"""The router: asks every venue at once, keeps those that answer in time, picks the best output."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal

from orders_shared.contracts import Quote, RouteLeg
from orders_shared.errors import NoRoute, TransientVenueError, VenueError
from orders_shared.logging import get_logger
from orders_shared.metrics import Metrics
from orders_shared.tokens import Token
from orders_worker.venues.base import Venue

log = get_logger()


@dataclass(frozen=True, slots=True)
class Route:
    """The routing decision: every quote seen, the legs chosen and the least output accepted."""

    quotes: list[Quote]
    dex_chosen: str
    legs: list[RouteLeg]
    expected_out: Decimal
    min_amount_out: Decimal

    def as_json(self) -> dict[str, object]:
        """The form kept in `orders.route`."""
        return {
            "quotes": [q.model_dump(mode="json", by_alias=True) for q in self.quotes],
            "dexChosen": self.dex_chosen,
            "legs": [leg.model_dump(mode="json", by_alias=True) for leg in self.legs],
            "minAmountOut": str(self.min_amount_out),
        }


def min_out(expected: Decimal, slippage_bps: int, token_out: Token) -> Decimal:
    """The least output the order accepts: the quote less the slippage, rounded against the trader."""
    step = Decimal(1).scaleb(-token_out.decimals)
    return (expected * (10_000 - slippage_bps) / 10_000).quantize(step, ROUND_DOWN)


@dataclass(slots=True)
class Router:
    """Chooses among ``venues``; one instance per worker."""

    venues: Sequence[Venue]
    metrics: Metrics
    quote_timeout_s: float = 1.5

    async def _quote(
        self, venue: Venue, token_in: Token, token_out: Token, amount_in: Decimal
    ) -> Quote | None:
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self.quote_timeout_s):
                quote = await venue.quote(token_in, token_out, amount_in)
        except TimeoutError:
            self.metrics.venue_errors.labels(venue=venue.name, kind="timeout").inc()
            log.warning("venue_quote_timeout", venue=venue.name)
            return None
        except NoRoute:
            return None
        except VenueError as exc:
            self.metrics.venue_errors.labels(venue=venue.name, kind="error").inc()
            log.warning("venue_quote_failed", venue=venue.name, error=str(exc))
            return None
        self.metrics.quote_duration.labels(venue=venue.name).observe(time.perf_counter() - started)
        return quote

    async def quotes(self, token_in: Token, token_out: Token, amount_in: Decimal) -> list[Quote]:
        """Every venue's quote that arrived in time."""
        answers = await asyncio.gather(*(self._quote(v, token_in, token_out, amount_in) for v in self.venues))
        return [q for q in answers if q is not None]

    def choose(self, quotes: list[Quote], token_out: Token, slippage_bps: int) -> Route:
        """The largest output net of fees; raises when no venue answered."""
        if not quotes:
            raise TransientVenueError("no venue answered with a quote")
        best = max(quotes, key=lambda q: q.amount_out)
        if best.amount_out <= 0:
            raise NoRoute("no venue can fill this order")
        leg = RouteLeg(
            venue=best.venue, percent=100, amount_in=best.amount_in, expected_amount_out=best.amount_out
        )
        self.metrics.routing_decisions.labels(venue=best.venue).inc()
        return Route(
            quotes=quotes,
            dex_chosen=best.venue,
            legs=[leg],
            expected_out=best.amount_out,
            min_amount_out=min_out(best.amount_out, slippage_bps, token_out),
        )
