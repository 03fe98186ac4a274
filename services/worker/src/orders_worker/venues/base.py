"""What a venue is to the router: something that quotes and executes a swap."""

from __future__ import annotations

from decimal import Decimal
from typing import Protocol

from orders_shared.contracts import Quote
from orders_shared.tokens import Token


class Venue(Protocol):
    """A DEX the engine can trade on."""

    name: str

    async def quote(self, token_in: Token, token_out: Token, amount_in: Decimal) -> Quote:
        """What selling ``amount_in`` of ``token_in`` would pay now; raises VenueError."""
        ...

    async def execute(
        self, token_in: Token, token_out: Token, amount_in: Decimal, expected_out: Decimal
    ) -> Decimal:
        """Swap and return the amount received, priced at execution time; raises VenueError."""
        ...
