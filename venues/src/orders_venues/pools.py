"""Seeded default pools: one Raydium CPMM pool and one Meteora DLMM pair per pair we trade.

The figures are a proposal sized after public data (see ``venues/README.md``): fee tiers and fee splits from
the venues' documentation, DLMM fee parameters from Meteora's preset parameters, depths of the order of the
venues' larger pools. Amounts are built from each token's decimals and a reference USD price, with no
floats: a pool is the same to the base unit on every machine.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_DOWN, Context, Decimal

from .meteora import DlmmParameters, DlmmPool, DlmmVParameters
from .q64 import ONE, get_q_price_from_id
from .raydium import CpmmPool
from .tokens import TOKENS, Token

# Enough digits for a Q64.64 price of any pair (2**64 has 20 digits; 10**18 of decimals difference).
_PRICE_CONTEXT = Context(prec=80, rounding=ROUND_DOWN)
_MIN_BIN_ID = -443_636
_MAX_BIN_ID = 443_636


# Reference prices in USD that seed the pools; the engine's price drift moves on from these.
DEFAULT_USD_PRICES: Mapping[str, Decimal] = {
    "SOL": Decimal("150"),
    "USDC": Decimal("1"),
    "USDT": Decimal("1"),
    "JUP": Decimal("0.50"),
    "BONK": Decimal("0.00002"),
}


@dataclass(frozen=True, slots=True)
class PairPools:
    """Both venues' pools for one pair: token 0 / X is the base token, token 1 / Y the quote token."""

    base: Token
    quote: Token
    raydium: CpmmPool
    meteora: DlmmPool

    @property
    def name(self) -> str:
        """``BASE/QUOTE``, e.g. ``SOL/USDC``."""
        return f"{self.base.symbol}/{self.quote.symbol}"


@dataclass(frozen=True, slots=True)
class _PairSpec:
    base: str
    quote: str
    cpmm_trade_fee_rate: int
    cpmm_usd_per_side: int
    bin_step: int
    dlmm_parameters: DlmmParameters
    dlmm_usd: int
    dlmm_radius: int


def _preset(
    base_factor: int,
    filter_period: int,
    decay_period: int,
    variable_fee_control: int,
    max_volatility_accumulator: int,
) -> DlmmParameters:
    # Meteora's presets all use a reduction factor of 5,000; 10% of the fee goes to the protocol.
    return DlmmParameters(
        base_factor=base_factor,
        filter_period=filter_period,
        decay_period=decay_period,
        reduction_factor=5_000,
        variable_fee_control=variable_fee_control,
        max_volatility_accumulator=max_volatility_accumulator,
        protocol_share=1_000,
    )


_SPECS: tuple[_PairSpec, ...] = (
    _PairSpec("SOL", "USDC", 2_500, 3_000_000, 10, _preset(10_000, 30, 600, 40_000, 350_000), 2_500_000, 100),
    _PairSpec("SOL", "USDT", 2_500, 750_000, 10, _preset(10_000, 30, 600, 40_000, 350_000), 800_000, 100),
    _PairSpec("USDC", "USDT", 100, 1_000_000, 1, _preset(20_000, 10, 120, 2_000_000, 100_000), 5_000_000, 10),
    _PairSpec("JUP", "SOL", 2_500, 400_000, 20, _preset(10_000, 30, 600, 20_000, 350_000), 600_000, 60),
    _PairSpec("BONK", "SOL", 2_500, 1_000_000, 25, _preset(10_000, 30, 600, 15_000, 350_000), 1_200_000, 80),
)


# The pairs with pools, as ``BASE/QUOTE``.
PAIRS: tuple[str, ...] = tuple(f"{spec.base}/{spec.quote}" for spec in _SPECS)


def _base_units(usd: Decimal, token: Token, usd_prices: Mapping[str, Decimal]) -> int:
    amount = _PRICE_CONTEXT.divide(_PRICE_CONTEXT.multiply(usd, 10**token.decimals), usd_prices[token.symbol])
    return int(amount.to_integral_value(rounding=ROUND_DOWN))


def q64_price(base: Token, quote: Token, usd_prices: Mapping[str, Decimal]) -> int:
    """Quote-token base units per base-token base unit, in Q64.64, rounded down."""
    ratio = _PRICE_CONTEXT.divide(
        _PRICE_CONTEXT.multiply(usd_prices[base.symbol], 10**quote.decimals * ONE),
        _PRICE_CONTEXT.multiply(usd_prices[quote.symbol], 10**base.decimals),
    )
    return int(ratio.to_integral_value(rounding=ROUND_DOWN))


def bin_id_for_price(price_q64: int, bin_step: int) -> int:
    """The highest bin id whose price is at most ``price_q64``: the active bin for that price."""
    # Beyond about +-443,636 / bin_step bins a price leaves the Q64.64 range and stops growing.
    low, high = _MIN_BIN_ID // bin_step, _MAX_BIN_ID // bin_step
    while low < high:
        middle = (low + high + 1) // 2
        if get_q_price_from_id(middle, bin_step) <= price_q64:
            low = middle
        else:
            high = middle - 1
    return low


def spot_bins(active_id: int, bin_step: int, quote_per_bin: int, radius: int) -> dict[int, tuple[int, int]]:
    """Meteora's "spot" shape: the same value in each of ``2 * radius + 1`` bins around the active one.

    Bins below the active bin hold the quote token (Y), bins above hold the base token (X) worth
    ``quote_per_bin`` at their own price, and the active bin holds half of each.
    """
    bins: dict[int, tuple[int, int]] = {}
    for bin_id in range(active_id - radius, active_id + radius + 1):
        price = get_q_price_from_id(bin_id, bin_step)
        amount_x = quote_per_bin * ONE // price
        if bin_id < active_id:
            bins[bin_id] = (0, quote_per_bin)
        elif bin_id > active_id:
            bins[bin_id] = (amount_x, 0)
        else:
            bins[bin_id] = (amount_x // 2, quote_per_bin // 2)
    return bins


def default_pools(
    usd_prices: Mapping[str, Decimal] = DEFAULT_USD_PRICES, *, now: int = 0
) -> dict[str, PairPools]:
    """The seeded pools for SOL/USDC, SOL/USDT, USDC/USDT, JUP/SOL and BONK/SOL, keyed by pair name.

    ``now`` stamps the DLMM pairs' last update, so the first swap after it starts with calm volatility.
    """
    pools: dict[str, PairPools] = {}
    for spec in _SPECS:
        base, quote = TOKENS[spec.base], TOKENS[spec.quote]
        per_side = Decimal(spec.cpmm_usd_per_side)
        raydium = CpmmPool(
            vault_0=_base_units(per_side, base, usd_prices),
            vault_1=_base_units(per_side, quote, usd_prices),
            trade_fee_rate=spec.cpmm_trade_fee_rate,
        )
        active_id = bin_id_for_price(q64_price(base, quote, usd_prices), spec.bin_step)
        bin_count = 2 * spec.dlmm_radius + 1
        quote_per_bin = _base_units(_PRICE_CONTEXT.divide(spec.dlmm_usd, bin_count), quote, usd_prices)
        meteora = DlmmPool(
            bin_step=spec.bin_step,
            active_id=active_id,
            parameters=spec.dlmm_parameters,
            v_parameters=DlmmVParameters(index_reference=active_id, last_update_timestamp=now),
            bins=spot_bins(active_id, spec.bin_step, quote_per_bin, spec.dlmm_radius),
        )
        pair = PairPools(base=base, quote=quote, raydium=raydium, meteora=meteora)
        pools[pair.name] = pair
    return pools


# A launched pair's Raydium CPMM pool: the standard 0.25% tier. Its Meteora pair exists with no liquidity,
# as right after a launchpad migrates to Raydium: the router finds it unable to fill and routes around it.
LAUNCH_TRADE_FEE_RATE = 2_500
LAUNCH_BIN_STEP = 100
_LAUNCH_DLMM = _preset(10_000, 30, 600, 7_500, 350_000)
_U64 = 2**64 - 1


@dataclass(frozen=True, slots=True)
class Listing:
    """A launched pair: its pools open at ``opens_at`` (unix s); ``usd_price`` is the base token's
    reference price at that moment, which the market's random walk starts from."""

    base: Token
    quote: Token
    opens_at: int
    usd_price: Decimal

    @property
    def pair(self) -> str:
        """``BASE/QUOTE``."""
        return f"{self.base.symbol}/{self.quote.symbol}"


def launch_pools(base: Token, quote: Token, price: Decimal, liquidity: Decimal, *, now: int) -> PairPools:
    """A new token's pools: a CPMM pool holding ``liquidity`` of the quote token and the same value of the
    new token at ``price`` (quote per base), and an empty DLMM pair at that price.

    ValueError when the amounts cannot be pool balances (zero, or beyond a u64).
    """
    if price <= 0 or liquidity <= 0:
        raise ValueError("price and liquidity must be positive")
    vault_1 = int(_PRICE_CONTEXT.multiply(liquidity, 10**quote.decimals).to_integral_value(ROUND_DOWN))
    vault_0 = int(
        _PRICE_CONTEXT.divide(_PRICE_CONTEXT.multiply(liquidity, 10**base.decimals), price).to_integral_value(
            ROUND_DOWN
        )
    )
    if not (0 < vault_0 <= _U64 and 0 < vault_1 <= _U64):
        raise ValueError(
            f"{liquidity} {quote.symbol} at {price} {quote.symbol} per {base.symbol} is not a pool: "
            "each side must be between one base unit and a u64"
        )
    raydium = CpmmPool(vault_0=vault_0, vault_1=vault_1, trade_fee_rate=LAUNCH_TRADE_FEE_RATE)
    ratio = _PRICE_CONTEXT.divide(_PRICE_CONTEXT.multiply(Decimal(vault_1), ONE), Decimal(vault_0))
    active_id = bin_id_for_price(int(ratio.to_integral_value(ROUND_DOWN)), LAUNCH_BIN_STEP)
    meteora = DlmmPool(
        bin_step=LAUNCH_BIN_STEP,
        active_id=active_id,
        parameters=_LAUNCH_DLMM,
        v_parameters=DlmmVParameters(index_reference=active_id, last_update_timestamp=now),
        bins={},
    )
    return PairPools(base=base, quote=quote, raydium=raydium, meteora=meteora)
