"""Trading a pair on both venues: orient an order on its pools, quote each venue, execute a route.

A pair's pools hold the base token as token 0 / X and the quote token as token 1 / Y; selling the base
is ``zero_for_one`` on Raydium and ``swap_for_y`` on Meteora.
"""

from __future__ import annotations

from collections.abc import Container, Sequence
from dataclasses import dataclass, replace
from typing import Final

from .errors import Unroutable
from .meteora import swap_quote
from .pools import PairPools
from .quote import SwapQuote
from .raydium import swap_exact_in
from .route_search import Leg, QuoteFn

VENUES: Final = ("raydium", "meteora")


@dataclass(frozen=True, slots=True)
class Side:
    """Which pair an order trades and in which direction."""

    pair: str
    sell_base: bool


def orient(token_in: str, token_out: str, pairs: Container[str]) -> Side:
    """The pair and direction of selling ``token_in`` for ``token_out`` among ``pairs`` (``BASE/QUOTE``:
    `PAIRS`, or a `Catalog`, launched pairs included); Unroutable when no pool exists."""
    if f"{token_in}/{token_out}" in pairs:
        return Side(f"{token_in}/{token_out}", sell_base=True)
    if f"{token_out}/{token_in}" in pairs:
        return Side(f"{token_out}/{token_in}", sell_base=False)
    raise Unroutable(f"no pool trades {token_in} for {token_out}")


def swap(
    pools: PairPools, venue: str, sell_base: bool, amount_in: int, now: int
) -> tuple[SwapQuote, PairPools]:
    """Swap ``amount_in`` on one venue: its quote and both pools after it (the other untouched)."""
    if venue == "raydium":
        cpmm = swap_exact_in(pools.raydium, amount_in, zero_for_one=sell_base)
        return cpmm.quote, replace(pools, raydium=cpmm.pool_after)
    if venue == "meteora":
        dlmm = swap_quote(pools.meteora, amount_in, swap_for_y=sell_base, now=now)
        return dlmm.quote, replace(pools, meteora=dlmm.pool_after)
    raise Unroutable(f"unknown venue {venue!r}")


def quote_fns(
    pools: PairPools, sell_base: bool, now: int, venues: Sequence[str] = VENUES
) -> dict[str, QuoteFn]:
    """Each venue as the route search's quote function ``amount_in -> amount_out``."""

    def venue_fn(venue: str) -> QuoteFn:
        return lambda amount: swap(pools, venue, sell_base, amount, now)[0].amount_out

    return {venue: venue_fn(venue) for venue in venues}


def execute(pools: PairPools, legs: Sequence[Leg], sell_base: bool, now: int) -> tuple[int, PairPools]:
    """Run every leg on its venue; the total received and the pools after."""
    received = 0
    for leg in legs:
        quote, pools = swap(pools, leg.venue, sell_base, leg.amount_in, now)
        received += quote.amount_out
    return received, pools
