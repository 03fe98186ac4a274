"""What one process trades: the seeded tokens and pairs, and the launches it has learnt since it started.

A launched token never changes, so a catalog only grows, and every process converges on the same one
whatever order it learns things in (a pools row, the `tokens` table, a `TokenLaunched` message). Each
process builds one at start and passes it to whatever looks up a token, a pair or a reference price.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from types import MappingProxyType

from .pools import DEFAULT_USD_PRICES, PAIRS, Listing
from .tokens import TOKENS, Token, find_token


class Catalog:
    """The seeded tokens and pairs plus the launched ones this process knows; only grows."""

    __slots__ = ("_listings", "_pairs", "_tokens", "_usd_prices")

    def __init__(self) -> None:
        # Launched tokens by symbol and by mint; launched pairs by name.
        self._tokens: dict[str, Token] = {}
        self._listings: dict[str, Listing] = {}
        # `pairs()`, kept: every order and trigger pass asks, a launch changes it.
        self._pairs: tuple[str, ...] = PAIRS
        # The seeded reference prices, then each launched token's at its opening.
        self._usd_prices: dict[str, Decimal] = dict(DEFAULT_USD_PRICES)

    def find_token(self, symbol_or_mint: str) -> Token | None:
        """The token named by its symbol (any case; wSOL is SOL) or its mint address, if we trade it."""
        return (
            find_token(symbol_or_mint)
            or self._tokens.get(symbol_or_mint)
            or self._tokens.get(symbol_or_mint.upper())
        )

    def register(self, token: Token) -> None:
        """Make a launched token known to `find_token` (idempotent)."""
        if token.symbol in TOKENS:
            raise ValueError(f"{token.symbol} is a seeded token")
        self._tokens[token.symbol] = token
        self._tokens[token.mint] = token

    def list_pair(self, listing: Listing) -> None:
        """Make a launched pair known (idempotent)."""
        if listing.pair not in self._listings:
            self._pairs = PAIRS + tuple(sorted([*self._listings, listing.pair]))
        self._listings[listing.pair] = listing
        if listing.base.symbol not in DEFAULT_USD_PRICES:
            self._usd_prices[listing.base.symbol] = listing.usd_price

    def learn(self, listing: Listing) -> None:
        """Make a launched pair and its token known (idempotent)."""
        self.register(listing.base)
        self.list_pair(listing)

    def listing(self, pair: str) -> Listing | None:
        """The launched pair of that name, if known."""
        return self._listings.get(pair)

    def pairs(self) -> tuple[str, ...]:
        """Every pair with pools: the seeded ones, then the launched ones known, by name."""
        return self._pairs

    def __contains__(self, pair: object) -> bool:
        """Whether ``pair`` (``BASE/QUOTE``) has pools: `orient` takes a catalog as its pairs."""
        return pair in PAIRS or pair in self._listings

    def usd_prices(self) -> Mapping[str, Decimal]:
        """Each token's reference USD price the market starts from: a seeded token's seed price, a launched
        token's price at its opening (a live view: it grows with the catalog)."""
        return MappingProxyType(self._usd_prices)
