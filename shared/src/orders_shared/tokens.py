"""The tokens the engine trades: real mainnet mints and decimals, looked up by symbol or mint."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType
from typing import Final

from orders_venues.pools import TOKENS as VENUE_TOKENS


@dataclass(frozen=True, slots=True)
class Token:
    """An SPL token; SOL is native and is traded as wrapped SOL (wSOL), whose mint it shares."""

    symbol: str
    mint: str
    decimals: int
    native: bool = False

    def to_base_units(self, amount: Decimal) -> int:
        """Exact conversion; callers have already checked the number of decimals."""
        return int(amount.scaleb(self.decimals))

    def from_base_units(self, amount: int) -> Decimal:
        """Base units back to a Decimal of this token, without trailing zeros."""
        return plain(Decimal(amount).scaleb(-self.decimals))


def plain(value: Decimal) -> Decimal:
    """``value`` without trailing zeros and never in exponent form (``1E+1`` prints as ``10``)."""
    normal = value.normalize()
    exponent = normal.as_tuple().exponent
    return normal.quantize(Decimal(1)) if isinstance(exponent, int) and exponent > 0 else normal


# One registry: the venues' pools are built from the same mints and decimals.
TOKENS: Final[tuple[Token, ...]] = tuple(
    Token(t.symbol, t.mint, t.decimals, native=t.symbol == "SOL") for t in VENUE_TOKENS.values()
)
SOL: Final = next(t for t in TOKENS if t.symbol == "SOL")
USDC: Final = next(t for t in TOKENS if t.symbol == "USDC")
USDT: Final = next(t for t in TOKENS if t.symbol == "USDT")

_BY_KEY: Final[Mapping[str, Token]] = MappingProxyType(
    {**{t.symbol: t for t in TOKENS}, **{t.mint: t for t in TOKENS}, "WSOL": SOL}
)


def find_token(symbol_or_mint: str) -> Token | None:
    """The token named by its symbol (any case; wSOL is SOL) or its mint address, if we trade it."""
    return _BY_KEY.get(symbol_or_mint) or _BY_KEY.get(symbol_or_mint.upper())
