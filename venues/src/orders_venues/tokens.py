"""The tokens the engine trades, one registry: real mainnet mints and decimals, found by symbol or mint."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType
from typing import Final


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


SOL: Final = Token("SOL", "So11111111111111111111111111111111111111112", 9, native=True)
USDC: Final = Token("USDC", "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v", 6)
USDT: Final = Token("USDT", "Es9vMFrzaCERmJfrF4H2FYD4KCoNkY2oXuxRuiVmkwM8Bq8", 6)
JUP: Final = Token("JUP", "JUPyiwrYJFskUPiHa7hkeR8VUtAeFoSYbKedZNsDvCN", 6)
BONK: Final = Token("BONK", "DezXAZ8z7PnrnRJjz3wXBoRgixCa6xjnB7YaB1pPB263", 5)

TOKENS: Final[Mapping[str, Token]] = MappingProxyType(
    {token.symbol: token for token in (SOL, USDC, USDT, JUP, BONK)}
)

_BY_KEY: Final[Mapping[str, Token]] = MappingProxyType(
    {**TOKENS, **{t.mint: t for t in TOKENS.values()}, "WSOL": SOL}
)


def find_token(symbol_or_mint: str) -> Token | None:
    """The token named by its symbol (any case; wSOL is SOL) or its mint address, if we trade it."""
    return _BY_KEY.get(symbol_or_mint) or _BY_KEY.get(symbol_or_mint.upper())
