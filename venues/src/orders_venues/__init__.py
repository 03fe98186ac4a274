"""Simulated Raydium CPMM and Meteora DLMM venues: pool math to the base unit, no I/O.

Amounts are integers in base units. Each model follows its venue's published TypeScript SDK to the base
unit (proven by ``tests/venues``), quotes a swap and returns the pool after it.
"""

from .catalog import Catalog
from .errors import (
    AmountTooLarge,
    AmountTooSmall,
    CannotFill,
    InsufficientLiquidity,
    InvalidAmount,
    InvalidPool,
    Unroutable,
    VenueMathError,
)
from .exchange import VENUES, Side, orient
from .market import Market
from .meteora import DlmmParameters, DlmmPool, DlmmSwap, DlmmVParameters, swap_quote
from .pools import (
    DEFAULT_USD_PRICES,
    PAIRS,
    Listing,
    PairPools,
    default_pools,
    launch_pools,
)
from .q64 import bin_array_bounds, bin_id_to_bin_array_index, get_q_price_from_id
from .quote import SwapQuote
from .raydium import (
    CpmmPool,
    CpmmSwap,
    CreatorFeeOn,
    CurveSwap,
    apply_swap,
    swap_base_input,
    swap_base_output,
    swap_exact_in,
    swap_exact_out,
)
from .route_search import Leg, QuoteFn, Route, best_route, best_single_venue
from .tokens import TOKENS, Token, derived_mint, find_token, is_mint, plain

__all__ = [
    "DEFAULT_USD_PRICES",
    "PAIRS",
    "TOKENS",
    "VENUES",
    "AmountTooLarge",
    "AmountTooSmall",
    "CannotFill",
    "Catalog",
    "CpmmPool",
    "CpmmSwap",
    "CreatorFeeOn",
    "CurveSwap",
    "DlmmParameters",
    "DlmmPool",
    "DlmmSwap",
    "DlmmVParameters",
    "InsufficientLiquidity",
    "InvalidAmount",
    "InvalidPool",
    "Leg",
    "Listing",
    "Market",
    "PairPools",
    "QuoteFn",
    "Route",
    "Side",
    "SwapQuote",
    "Token",
    "Unroutable",
    "VenueMathError",
    "apply_swap",
    "best_route",
    "best_single_venue",
    "bin_array_bounds",
    "bin_id_to_bin_array_index",
    "default_pools",
    "derived_mint",
    "find_token",
    "get_q_price_from_id",
    "is_mint",
    "launch_pools",
    "orient",
    "plain",
    "swap_base_input",
    "swap_base_output",
    "swap_exact_in",
    "swap_exact_out",
    "swap_quote",
]
