"""Why a waiting order has not fired yet: the best route's average price for its amount now, in words.

`GET /api/orders/{id}` of an `open` order shows it. The price is decided as the quote route and the
worker's trigger decide it (`orders_shared.decision.decide` on the settled pools), for the order's whole
amount; it costs one read of the pair's pools, parsed only when they changed since the last read.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from decimal import Decimal, localcontext

from orders_shared.db import Conn
from orders_shared.decision import decide, settled
from orders_shared.errors import NoRoute
from orders_shared.pools import ParsedPools
from orders_shared.repository import OrderRow, read_pools
from orders_shared.settings import CommonSettings
from orders_venues import Catalog, Unroutable, orient
from orders_venues.tokens import plain

# Digits of the price in the answer (as executedPrice), and in the sentence, which people read.
PRICE_DIGITS = 18
READABLE_DIGITS = 6


@dataclass(frozen=True, slots=True)
class Waiting:
    """The best route's average price now (tokenOut per tokenIn; None without a route) and why it waits."""

    current_price: Decimal | None
    reason: str


def readable(value: Decimal, digits: int = READABLE_DIGITS) -> str:
    """``value`` to ``digits`` significant digits, without trailing zeros or an exponent."""
    with localcontext() as ctx:
        ctx.prec = digits
        rounded = +value
    return format(rounded.normalize(), "f")


async def why_waiting(
    conn: Conn,
    row: OrderRow,
    parsed: ParsedPools,
    settings: CommonSettings,
    catalog: Catalog,
) -> Waiting:
    """Why the open order ``row`` waits: the price its whole amount would get now, against its terms, on
    the pairs ``catalog`` knows (as the worker's trigger sees them: launches are learnt as announced)."""
    token_in, token_out = row.token_in, row.token_out
    try:
        side = orient(token_in, token_out, catalog)
    except Unroutable:
        return Waiting(None, f"no pool trades {token_out} for {token_in} yet")
    state = await read_pools(conn, side.pair, parsed, catalog)
    pools = state.pools
    sold, bought = (pools.base, pools.quote) if side.sell_base else (pools.quote, pools.base)
    now = int(time.time())
    current = settled(state, settings, now, catalog)
    try:
        decision = decide(current, side, sold, bought, row.amount_in, row.slippage_bps, now)
    except NoRoute:
        return Waiting(None, f"no route can fill {readable(row.amount_in)} {token_in} for {token_out} now")
    with localcontext() as ctx:
        ctx.prec = PRICE_DIGITS
        price = plain(decision.expected_out / row.amount_in)
    pays = f"the best route pays {readable(price)} {token_out} per {token_in}"
    if row.limit_price is None:
        # A sniper order whose pool exists: the trigger fires it in the pair's first turn once it opens.
        return Waiting(price, f"{pays}; it fires in the first turn after its pool opens")
    limit = format(plain(row.limit_price), "f")
    if price >= row.limit_price:
        return Waiting(price, f"{pays}, at least its limit {limit}; it fires in the trigger's next pass")
    return Waiting(price, f"{pays}; it fires at {limit}")
