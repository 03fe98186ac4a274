"""The tokens the engine trades: real mainnet mints and decimals, found by symbol or mint; base58.

The five seeded tokens are constants. A token launched later (``orders_shared.launches``) is known to the
`Catalog` of each process that learns of it.
"""

from __future__ import annotations

import hashlib
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
    """The seeded token named by its symbol (any case; wSOL is SOL) or its mint address, if any."""
    return _BY_KEY.get(symbol_or_mint) or _BY_KEY.get(symbol_or_mint.upper())


_BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_BASE58_INDEX = {c: i for i, c in enumerate(_BASE58)}


def b58encode(data: bytes) -> str:
    """Bitcoin-alphabet base58, as Solana writes public keys."""
    number = int.from_bytes(data, "big")
    digits = ""
    while number:
        number, digit = divmod(number, 58)
        digits = _BASE58[digit] + digits
    return "1" * (len(data) - len(data.lstrip(b"\0"))) + digits


def b58decode(text: str) -> bytes | None:
    """The bytes of a base58 string; None if it holds a character outside the alphabet."""
    number = 0
    for char in text:
        digit = _BASE58_INDEX.get(char)
        if digit is None:
            return None
        number = number * 58 + digit
    body = number.to_bytes((number.bit_length() + 7) // 8, "big") if number else b""
    return b"\0" * (len(text) - len(text.lstrip("1"))) + body


def is_mint(text: str) -> bool:
    """Whether ``text`` can be a mint address: base58 of exactly 32 bytes (an ed25519 public key)."""
    return 32 <= len(text) <= 44 and (decoded := b58decode(text)) is not None and len(decoded) == 32


def derived_mint(seed: str) -> str:
    """A mint address derived from ``seed``: the same seed gives the same address everywhere."""
    return b58encode(hashlib.sha256(f"orders/mint/{seed}".encode()).digest())
