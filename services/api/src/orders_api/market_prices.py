"""Both venues' spot prices per pair over the last minutes, sampled by the api itself.

A background pass of the api's lifespan reads every pair's pools once a second (the pairs of the `pools`
table, so a pair a launch adds shows up on the next pass), settles them as every service does, and keeps
each venue's spot price (quote per base) in a bounded ring per pair. The history lives in the process and
nowhere else: a fresh api has only the points since it started, and each api process keeps its own.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal, localcontext

from orders_api import repository
from orders_shared.db import Database
from orders_shared.decision import settled
from orders_shared.pools import PairState, ParsedPools
from orders_shared.repository import read_pools
from orders_shared.settings import CommonSettings
from orders_venues import Catalog, PairPools
from orders_venues.q64 import ONE, get_q_price_from_id
from orders_venues.tokens import plain

# One point a second, kept for the longest window the endpoint serves.
SAMPLE_INTERVAL_S = 1.0
HISTORY_S = 900
PRICE_DIGITS = 12


@dataclass(frozen=True, slots=True)
class PricePoint:
    """Both venues' spot prices (quote per base; None where a venue has no liquidity) at second ``t``."""

    t: int
    raydium: Decimal | None
    meteora: Decimal | None


def _digits(value: Decimal) -> Decimal:
    with localcontext() as ctx:
        ctx.prec = PRICE_DIGITS
        return plain(+value)


def spot_prices(pools: PairPools, t: int) -> PricePoint:
    """Each venue's marginal price at second ``t``: Raydium's reserves' ratio, Meteora's active bin."""
    scale = Decimal(10) ** (pools.base.decimals - pools.quote.decimals)
    cpmm = pools.raydium
    raydium = _digits(Decimal(cpmm.reserve_1) / Decimal(cpmm.reserve_0) * scale)
    dlmm = pools.meteora
    meteora = None
    if any(x or y for x, y in dlmm.bins.values()):
        meteora = _digits(Decimal(get_q_price_from_id(dlmm.active_id, dlmm.bin_step)) / ONE * scale)
    return PricePoint(t, raydium, meteora)


@dataclass(slots=True)
class PriceHistory:
    """The last HISTORY_S seconds of spot prices per pair (``BASE/QUOTE``), oldest first."""

    points: dict[str, deque[PricePoint]] = field(default_factory=dict)

    def add(self, pair: str, point: PricePoint) -> None:
        """Keep ``point``; the oldest point of a full ring goes."""
        ring = self.points.setdefault(pair, deque(maxlen=HISTORY_S))
        if ring and ring[-1].t >= point.t:
            ring.pop()  # two passes in one second: the later one stands for it
        ring.append(point)

    def keep_only(self, pairs: set[str]) -> None:
        """Forget the pairs that no longer have pools."""
        for gone in set(self.points) - pairs:
            del self.points[gone]

    def since(self, pair: str, t: int) -> list[PricePoint]:
        """The pair's points from second ``t`` on, oldest first."""
        ring = self.points.get(pair, deque())
        recent: list[PricePoint] = []
        for point in reversed(ring):
            if point.t < t:
                break
            recent.append(point)
        recent.reverse()
        return recent


@dataclass(slots=True)
class MarketPrices:
    """Samples every pair's settled pools into a PriceHistory (one pass a second, run by the lifespan with
    orders_api.periodic) and serves windows of it."""

    db: Database
    settings: CommonSettings
    # The tokens and pairs this process knows (the lifespan's one): a launched pair's prices start there.
    catalog: Catalog
    history: PriceHistory = field(default_factory=PriceHistory)
    # Its own parsed pools: a pair's pools are parsed again only when a swap has changed them.
    parsed: ParsedPools = field(default_factory=ParsedPools)

    async def sample_once(self) -> None:
        """One point per pair, at this second.

        A pair whose pools cannot be read (gone since the list, or naming a token this process does not
        know) does not hold up the others: they are sampled, then the pass fails naming it.
        """
        now = int(time.time())
        states: list[tuple[str, PairState]] = []
        unreadable: list[str] = []
        async with self.db.connection() as conn:
            pairs = await repository.pool_pairs(conn)
            for pair in pairs:
                try:
                    states.append((pair, await read_pools(conn, pair, self.parsed, self.catalog)))
                except LookupError:
                    unreadable.append(pair)
        for pair, state in states:
            self.history.add(pair, spot_prices(settled(state, self.settings, now, self.catalog), now))
        self.history.keep_only(set(pairs))
        if unreadable:
            raise LookupError(f"cannot read the pools of {', '.join(unreadable)}")

    async def window(self, pair: str, seconds: int) -> list[PricePoint]:
        """The pair's points of the last ``seconds``, oldest first; UnknownPair if no pools trade it."""
        if pair not in self.history.points:
            # Not sampled yet (the api has just started, or a launch has just added it), or no such pair.
            async with self.db.connection() as conn:
                known = await repository.pool_pairs(conn)
            if pair not in known:
                raise UnknownPair(pair, known)
        return self.history.since(pair, int(time.time()) - seconds + 1)


class UnknownPair(LookupError):
    """No pools trade the pair."""

    def __init__(self, pair: str, known: list[str]) -> None:
        super().__init__(f"no pools trade {pair}; pairs: {', '.join(known)}")
        self.pair = pair
