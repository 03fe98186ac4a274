"""The simulated market: a seeded random walk of reference prices, and arbitrage that pulls pools to it.

Reference prices are Brownian motions in log-price built by Lévy's construction: at integer second ``t`` the
walk is a sum of one Schauder "tent" per dyadic level, each weighted by a Gaussian drawn from a hash of
(seed, token, level, interval). So the price at any second is a pure function of the seed and the second:
every worker computes the same market without sharing state, and the same seed gives the same run.

Pools do not sit exactly on the reference price: each venue's arbitrageurs chase the reference plus a
bounded, slowly wandering basis of their own (a few percent at most; a few bps between stablecoins),
which is why the two venues quote a few percent apart, as the original assignment describes. They close a
share ``1 - 2**(-dt / half_life)`` of the gap on each visit, with real swaps through the pool's own math.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import Context, Decimal
from functools import lru_cache

from .errors import VenueMathError
from .meteora import DlmmPool, swap_quote
from .pools import DEFAULT_USD_PRICES, PairPools, bin_id_for_price
from .q64 import ONE, get_q_price_from_id
from .raydium import CpmmPool, swap_exact_in

_LEVELS = 32  # the walk spans 2**32 s (136 years) from the unix epoch, resolved to the second
_SPAN = 1 << _LEVELS
_CONTEXT = Context(prec=40)
_FEE_DENOMINATOR = 1_000_000
# Stablecoins keep their peg: only these tokens wander.
_STABLE = frozenset({"USDC", "USDT"})
# Stable/stable pools trade within a few bps of their peg, and the seeded USDC/USDT position spans only
# +-10 bins of 1 bp: a basis of percents would push arbitrage through the whole position, leaving the pool
# one-sided and a quote unfillable a second later.
_PEGGED_BASIS_BPS = 5


def _nano(value: float) -> Decimal:
    # The walk is in floats; rounding to 1e-9 before it touches a price makes prices identical everywhere.
    return Decimal(round(value * 1_000_000_000)).scaleb(-9)


@lru_cache(maxsize=65_536)
def _gaussian(seed: int, name: str, level: int, index: int) -> float:
    digest = hashlib.blake2b(f"{seed}/{name}/{level}/{index}".encode(), digest_size=16).digest()
    u1 = (int.from_bytes(digest[:8], "big") + 1) / 2.0**64
    u2 = int.from_bytes(digest[8:], "big") / 2.0**64
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)


@lru_cache(maxsize=65_536)
def brownian(seed: int, name: str, t: int) -> float:
    """A standard Brownian motion at second ``t`` (variance ``t``), the same for every caller."""
    t %= _SPAN
    total = _gaussian(seed, name, -1, 0) * math.sqrt(_SPAN) * t / _SPAN
    for level in range(_LEVELS):
        length = _SPAN >> level
        index, offset = divmod(t, length)
        half = length / 2
        tent = (offset if offset < half else length - offset) / half
        total += _gaussian(seed, name, level, index) * math.sqrt(length) / 2 * tent
    return total


@dataclass(frozen=True, slots=True)
class Market:
    """Reference prices and each venue's basis, as functions of the second."""

    seed: int
    origin: int
    volatility_bps: int = 2
    basis_bps: int = 200
    basis_timescale_s: int = 600
    half_life_s: int = 20
    usd_prices: Mapping[str, Decimal] = field(default_factory=lambda: DEFAULT_USD_PRICES)

    def usd_price(self, symbol: str, t: int) -> Decimal:
        """The token's reference price in USD at second ``t``; equal to its seed price at ``origin``.

        A launched token starts from its launch price (its pools' origin is their opening): the caller's
        ``usd_prices`` hold it (`Catalog.usd_prices`).
        """
        start = self.usd_prices.get(symbol)
        if start is None:
            raise KeyError(f"no reference price for {symbol}")
        if symbol in _STABLE or self.volatility_bps == 0:
            return start
        drift = brownian(self.seed, symbol, t) - brownian(self.seed, symbol, self.origin)
        return _CONTEXT.multiply(start, _CONTEXT.exp(_nano(drift * self.volatility_bps / 10_000)))

    def basis(self, venue: str, pair: str, t: int) -> Decimal:
        """How far this venue's arbitrageurs sit from the reference, as a factor near 1 (bounded)."""
        bound = self.basis_bps
        if _STABLE.issuperset(pair.split("/")):
            bound = min(bound, _PEGGED_BASIS_BPS)
        if bound == 0:
            return Decimal(1)
        # The walk's last `basis_timescale_s` seconds: a standard normal at any t, wandering on that scale.
        name = f"basis/{venue}/{pair}"
        window = brownian(self.seed, name, t) - brownian(self.seed, name, t - self.basis_timescale_s)
        return 1 + _nano(math.tanh(window / math.sqrt(self.basis_timescale_s)) * bound / 10_000)

    def target_q64(self, pools: PairPools, venue: str, t: int) -> int:
        """The Q64.64 price (quote base units per base base unit) this venue's pool is pulled to."""
        base, quote = pools.base, pools.quote
        ratio = _CONTEXT.divide(
            _CONTEXT.multiply(self.usd_price(base.symbol, t), self.basis(venue, pools.name, t)),
            self.usd_price(quote.symbol, t),
        )
        scaled = _CONTEXT.multiply(ratio, Decimal(ONE) * Decimal(10) ** (quote.decimals - base.decimals))
        return int(scaled)

    def pull(self, elapsed_s: int) -> Decimal:
        """The share of the gap arbitrage closes in ``elapsed_s`` seconds."""
        if elapsed_s <= 0:
            return Decimal(0)
        return 1 - _CONTEXT.power(Decimal(2), Decimal(-elapsed_s) / self.half_life_s)

    def settle(self, pools: PairPools, since: int, now: int) -> PairPools:
        """Both pools after the arbitrage of the seconds ``since..now``."""
        share = self.pull(now - since)
        if share == 0:
            return pools
        return replace(
            pools,
            raydium=arbitrage_cpmm(pools.raydium, self.target_q64(pools, "raydium", now), share),
            meteora=arbitrage_dlmm(pools.meteora, self.target_q64(pools, "meteora", now), share, now),
        )


def _partial_q64(current: int, target: int, share: Decimal) -> int:
    # Close `share` of the gap in log-price, so a pull is the same whichever side the price is on.
    ratio = _CONTEXT.divide(Decimal(target), Decimal(current))
    return int(_CONTEXT.multiply(Decimal(current), _CONTEXT.power(ratio, share)))


def arbitrage_cpmm(pool: CpmmPool, target_q64: int, share: Decimal) -> CpmmPool:
    """The pool after an arbitrageur swaps it ``share`` of the way to ``target_q64`` (token 1 per token 0)."""
    x, y = pool.reserve_0, pool.reserve_1
    current = (y << 64) // x
    goal = _partial_q64(current, target_q64, share)
    k = x * y
    if goal > current:  # token 0 is too cheap here: buy it with token 1
        net = (math.isqrt(k * goal) >> 32) - y
        zero_for_one = False
    elif goal < current:
        net = math.isqrt((k << 64) // max(goal, 1)) - x
        zero_for_one = True
    else:
        return pool
    gross = net * _FEE_DENOMINATOR // (_FEE_DENOMINATOR - pool.trade_fee_rate)
    if gross <= 0:
        return pool
    return swap_exact_in(pool, gross, zero_for_one).pool_after


def arbitrage_dlmm(pool: DlmmPool, target_q64: int, share: Decimal, now: int) -> DlmmPool:
    """The pair after an arbitrageur walks its active bin ``share`` of the way to ``target_q64``."""
    target_bin = bin_id_for_price(target_q64, pool.bin_step)
    goal = pool.active_id + int(_CONTEXT.multiply(Decimal(target_bin - pool.active_id), share))
    if goal == pool.active_id:
        return pool
    swap_for_y = goal < pool.active_id
    # What it takes to empty the output side of every bin between here and the goal, fees on top.
    path = range(goal + 1, pool.active_id + 1) if swap_for_y else range(pool.active_id, goal)
    needed = 0
    for bin_id in path:
        amount_x, amount_y = pool.bins.get(bin_id, (0, 0))
        price = get_q_price_from_id(bin_id, pool.bin_step)
        needed += -((-amount_y << 64) // price) if swap_for_y else -((-amount_x * price) >> 64)
    if needed <= 0:
        return pool
    gross = needed * 10 // 9 + 1  # the fee is at most 10% (the program's cap)
    try:
        return swap_quote(pool, gross, swap_for_y, now, allow_partial_fill=True).pool_after
    except VenueMathError:
        return pool
