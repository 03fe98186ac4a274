"""Routing decisions on the pools as they are now: every venue's quote and the best route.

The api's quote endpoint and the worker's routing step call the same function on the same pools, so a
quote and the order that follows it are decided alike.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from orders_shared.contracts import RouteLeg, VenueQuote
from orders_shared.errors import NoRoute
from orders_shared.pools import PairState
from orders_shared.settings import CommonSettings
from orders_venues import CannotFill, Catalog, Leg, Market, PairPools, Unroutable, best_route
from orders_venues.exchange import VENUES, Side, quote_fns, swap
from orders_venues.tokens import Token


def market(settings: CommonSettings, origin: int, catalog: Catalog) -> Market:
    """The simulated market every service agrees on: the seed and its shape from settings, the reference
    prices of the tokens ``catalog`` knows."""
    return Market(
        seed=settings.market_seed,
        origin=origin,
        volatility_bps=settings.market_volatility_bps,
        basis_bps=settings.venue_basis_bps,
        half_life_s=settings.arbitrage_half_life_s,
        usd_prices=catalog.usd_prices(),
    )


@dataclass(frozen=True, slots=True)
class Decision:
    """Where an order goes: each venue's quote for all of it, the legs chosen, the least it accepts."""

    side: Side
    quotes: list[VenueQuote]
    dex_chosen: str
    legs: list[RouteLeg]
    expected_out: Decimal
    min_amount_out: Decimal

    def as_json(self) -> dict[str, Any]:
        """The form kept in `orders.route`; enough to send the same swap again."""
        return {
            "pair": self.side.pair,
            "sellBase": self.side.sell_base,
            "quotes": [q.model_dump(mode="json", by_alias=True) for q in self.quotes],
            "dexChosen": self.dex_chosen,
            "legs": [leg.model_dump(mode="json", by_alias=True) for leg in self.legs],
            "expectedAmountOut": str(self.expected_out),
            "minAmountOut": str(self.min_amount_out),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Decision:
        """The inverse of as_json."""
        return cls(
            side=Side(data["pair"], data["sellBase"]),
            quotes=[VenueQuote.model_validate(q) for q in data["quotes"]],
            dex_chosen=data["dexChosen"],
            legs=[RouteLeg.model_validate(leg) for leg in data["legs"]],
            expected_out=Decimal(data["expectedAmountOut"]),
            min_amount_out=Decimal(data["minAmountOut"]),
        )

    def units(self, token_in: Token) -> list[Leg]:
        """The legs in base units, as the venues take them."""
        return [Leg(leg.venue, leg.percent, token_in.to_base_units(leg.amount_in), 0) for leg in self.legs]


def min_out_units(expected: int, slippage_bps: int) -> int:
    """The least output accepted: the quote less the slippage, rounded against the trader."""
    return expected * (10_000 - slippage_bps) // 10_000


def limit_min_out(amount_in: Decimal, limit_price: Decimal, token_out: Token) -> Decimal:
    """The least output a limit order accepts: ``amount_in * limit_price``, rounded up to a base unit."""
    return token_out.from_base_units(math.ceil((amount_in * limit_price).scaleb(token_out.decimals)))


def decide(
    pools: PairPools,
    side: Side,
    token_in: Token,
    token_out: Token,
    amount_in: Decimal,
    slippage_bps: int,
    now: int,
    venues: Sequence[str] = VENUES,
) -> Decision:
    """Quote every venue and choose the route (splitting when a split pays); NoRoute if none can fill."""
    units = token_in.to_base_units(amount_in)
    quotes: list[VenueQuote] = []
    for venue in venues:
        try:
            quote = swap(pools, venue, side.sell_base, units, now)[0]
        except CannotFill:
            continue
        quotes.append(
            VenueQuote(
                venue=venue,
                amount_in=token_in.from_base_units(quote.amount_in),
                amount_out=token_out.from_base_units(quote.amount_out),
                fee_amount=token_in.from_base_units(quote.fee_amount),
                price_impact_pct=quote.price_impact_pct,
            )
        )
    try:
        route = best_route(quote_fns(pools, side.sell_base, now, venues), units)
    except Unroutable:
        raise NoRoute(f"no venue can fill {amount_in} {token_in.symbol} for {token_out.symbol}") from None
    legs = [
        RouteLeg(
            venue=leg.venue,
            percent=leg.percent,
            amount_in=token_in.from_base_units(leg.amount_in),
            expected_amount_out=token_out.from_base_units(leg.amount_out),
        )
        for leg in route.legs
    ]
    return Decision(
        side=side,
        quotes=quotes,
        dex_chosen="split" if route.is_split else route.legs[0].venue,
        legs=legs,
        expected_out=token_out.from_base_units(route.amount_out),
        min_amount_out=token_out.from_base_units(min_out_units(route.amount_out, slippage_bps)),
    )


def settled(state: PairState, settings: CommonSettings, now: int, catalog: Catalog) -> PairPools:
    """The pair's pools after the arbitrage since they were last written."""
    return market(settings, state.origin, catalog).settle(state.pools, state.synced_at, now)
