"""The tokens the engine trades: real mainnet mints and decimals, looked up by symbol or mint."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType
from typing import Final


@dataclass(frozen=True, slots=True)
class Token:
    """An SPL token (SOL is traded as wrapped SOL, whose mint it shares)."""

    symbol: str
    mint: str
    decimals: int
    native: bool = False

    def to_base_units(self, amount: Decimal) -> int:
        """Exact conversion; callers have already checked the number of decimals."""
        return int(amount.scaleb(self.decimals))

    def from_base_units(self, amount: int) -> Decimal:
        """Base units back to a Decimal of this token."""
        return Decimal(amount).scaleb(-self.decimals)


SOL: Final = Token("SOL", "So11111111111111111111111111111111111111112", 9, native=True)
USDC: Final = Token("USDC", "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v", 6)
USDT: Final = Token("USDT", "Es9vMFrzaCERmJfrF4H2FYD4KCoNkY2oXuxRuiVmkwM8Bq8", 6)

TOKENS: Final[tuple[Token, ...]] = (SOL, USDC, USDT)

_BY_KEY: Final[Mapping[str, Token]] = MappingProxyType(
    {**{t.symbol: t for t in TOKENS}, **{t.mint: t for t in TOKENS}}
)


def find_token(symbol_or_mint: str) -> Token | None:
    """The token named by its symbol (any case) or its mint address, if we trade it."""
    return _BY_KEY.get(symbol_or_mint) or _BY_KEY.get(symbol_or_mint.upper())
