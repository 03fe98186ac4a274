"""Simple simulated venues: a reference price per pair, a spread per venue, latency and a fee.

This is the honest minimum that makes routing a real choice; faithful pool models replace it.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import Final

from orders_shared.contracts import Quote
from orders_shared.errors import NoRoute, TransientVenueError
from orders_shared.tokens import Token

# Mid prices in USD, near mainnet's at the time of writing.
REFERENCE_USD: Final[Mapping[str, Decimal]] = {
    "SOL": Decimal("150"),
    "USDC": Decimal("1"),
    "USDT": Decimal("1"),
}


def reference_price(token_in: Token, token_out: Token) -> Decimal:
    """Units of ``token_out`` one ``token_in`` is worth."""
    try:
        return REFERENCE_USD[token_in.symbol] / REFERENCE_USD[token_out.symbol]
    except KeyError:
        raise NoRoute(f"no pool for {token_in.symbol}/{token_out.symbol}") from None


@dataclass(slots=True)
class SimulatedVenue:
    """A venue whose quotes scatter around the reference price by up to ``spread``."""

    name: str
    fee: Decimal
    rng: random.Random
    quote_latency_s: tuple[float, float] = (0.2, 0.4)
    execute_latency_s: tuple[float, float] = (2.0, 3.0)
    spread: Decimal = Decimal("0.03")
    failure_rate: float = 0.0

    def _maybe_fail(self, what: str) -> None:
        if self.failure_rate and self.rng.random() < self.failure_rate:
            raise TransientVenueError(f"{self.name} {what} failed (injected, VENUE_FAILURE_RATE)")

    async def _pause(self, bounds: tuple[float, float]) -> None:
        if bounds[1] > 0:
            await asyncio.sleep(self.rng.uniform(*bounds))

    def _price(self, token_in: Token, token_out: Token) -> Decimal:
        scatter = Decimal(self.rng.randint(-10_000, 10_000)) / 10_000 * self.spread
        return reference_price(token_in, token_out) * (1 + scatter)

    async def quote(self, token_in: Token, token_out: Token, amount_in: Decimal) -> Quote:
        """A quote at the venue's current price, net of its fee."""
        await self._pause(self.quote_latency_s)
        self._maybe_fail("quote")
        gross = amount_in * self._price(token_in, token_out)
        fee = gross * self.fee
        step = Decimal(1).scaleb(-token_out.decimals)
        return Quote(
            venue=self.name,
            amount_in=amount_in,
            amount_out=(gross - fee).quantize(step, ROUND_DOWN),
            fee_amount=fee.quantize(step, ROUND_DOWN),
            price_impact_pct=Decimal(0),
        )

    async def execute(
        self, token_in: Token, token_out: Token, amount_in: Decimal, expected_out: Decimal
    ) -> Decimal:
        """Fill at the price of the moment: the quote, drifted by up to 0.2% either way."""
        await self._pause(self.execute_latency_s)
        self._maybe_fail("swap")
        drift = Decimal(self.rng.randint(-20, 20)) / 10_000
        return (expected_out * (1 + drift)).quantize(Decimal(1).scaleb(-token_out.decimals), ROUND_DOWN)
