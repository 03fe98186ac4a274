"""The venue-neutral quote: what a swap costs and returns, whatever the venue."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Context, Decimal

# decimal.js defaults (20 significant digits, half up): the Meteora SDK reports price impact with them,
# so we use them everywhere and the figures of both venues read alike.
IMPACT_CONTEXT = Context(prec=20, rounding=ROUND_HALF_UP)


@dataclass(frozen=True, slots=True)
class SwapQuote:
    """A quote in base units of the input and output tokens.

    ``fee_amount`` is every fee the trader pays in the input token (LP and protocol shares together);
    ``price_impact_pct`` compares the execution price, net of fees, with the pool's spot price, in percent.
    """

    amount_in: int
    amount_out: int
    fee_amount: int
    price_impact_pct: Decimal


def impact_pct(shortfall: int, ideal: int) -> Decimal:
    """``shortfall / ideal`` in percent, rounded once to 20 significant digits; 0 when ``ideal`` is 0."""
    if ideal == 0:
        return Decimal(0)
    return IMPACT_CONTEXT.divide(Decimal(shortfall * 100), Decimal(ideal))
