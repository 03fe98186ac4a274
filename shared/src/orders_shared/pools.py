"""The venues' pools as Postgres keeps them: one `pools` row per pair, so every worker trades the same
liquidity; its JSON form, and the parsed pools a process keeps by version.

A swap's pool update is written in the same transaction as its `executions` row and its `confirmed`
event: they commit together or not at all. The row lock (SELECT … FOR UPDATE) serialises the swaps of
one pair across workers, as a block does on chain. The statements are in `orders_shared.repository`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any

from orders_venues import (
    Catalog,
    CpmmPool,
    CreatorFeeOn,
    DlmmParameters,
    DlmmPool,
    DlmmVParameters,
    Listing,
    PairPools,
)
from orders_venues.tokens import TOKENS, Token


def dump(pools: PairPools, launched: Listing | None = None) -> dict[str, Any]:
    """A pair's pools as JSON (integers stay exact: jsonb numbers are arbitrary precision).

    A launched pair's state carries its token: ``launched`` is its listing (`Catalog.listing`).
    """
    raydium = asdict(pools.raydium)
    raydium["creator_fee_on"] = pools.raydium.creator_fee_on.name
    meteora = pools.meteora
    state: dict[str, Any] = {
        "base": pools.base.symbol,
        "quote": pools.quote.symbol,
        "raydium": raydium,
        "meteora": {
            "bin_step": meteora.bin_step,
            "active_id": meteora.active_id,
            "parameters": asdict(meteora.parameters),
            "v_parameters": asdict(meteora.v_parameters),
            "bins": [[bin_id, x, y] for bin_id, (x, y) in sorted(meteora.bins.items())],
        },
    }
    if pools.base.symbol not in TOKENS:
        # A launched pair carries its token, so whoever reads the row can trade it and price it.
        if launched is None:
            raise LookupError(f"{pools.name} is neither seeded nor a known launch")
        state["launch"] = {
            "mint": launched.base.mint,
            "decimals": launched.base.decimals,
            "usdPrice": str(launched.usd_price),
            "opensAt": launched.opens_at,
        }
    return state


def _launched(state: dict[str, Any], quote: Token, catalog: Catalog) -> Token:
    """The launched base token of a pair's state, made known to ``catalog`` on the way."""
    launch = state["launch"]
    base = catalog.find_token(state["base"]) or Token(state["base"], launch["mint"], launch["decimals"])
    catalog.learn(Listing(base, quote, launch["opensAt"], Decimal(launch["usdPrice"])))
    return base


def load(state: dict[str, Any], catalog: Catalog) -> PairPools:
    """The inverse of dump; a launched pair becomes known to ``catalog``."""
    raydium = dict(state["raydium"])
    raydium["creator_fee_on"] = CreatorFeeOn[raydium["creator_fee_on"]]
    meteora = state["meteora"]
    quote = TOKENS[state["quote"]]
    return PairPools(
        base=_launched(state, quote, catalog) if "launch" in state else TOKENS[state["base"]],
        quote=quote,
        raydium=CpmmPool(**raydium),
        meteora=DlmmPool(
            bin_step=meteora["bin_step"],
            active_id=meteora["active_id"],
            parameters=DlmmParameters(**meteora["parameters"]),
            v_parameters=DlmmVParameters(**meteora["v_parameters"]),
            bins={bin_id: (x, y) for bin_id, x, y in meteora["bins"]},
        ),
    )


class PairState:
    """A pair's pools as read from Postgres, with when arbitrage last caught up and the market's origin."""

    __slots__ = ("origin", "pools", "synced_at", "version")

    def __init__(self, pools: PairPools, synced_at: int, origin: int, version: int = 0) -> None:
        self.pools = pools
        self.synced_at = synced_at
        self.origin = origin
        self.version = version


@dataclass(slots=True)
class ParsedPools:
    """Each pair's pools as last parsed, by version: parsing is most of what reading the pools costs."""

    by_pair: dict[str, tuple[int, PairPools]] = field(default_factory=dict)

    def version(self, pair: str) -> int:
        """The version of the pair's pools parsed last; -1 if none."""
        known = self.by_pair.get(pair)
        return known[0] if known is not None else -1

    def entry(self, pair: str) -> tuple[int, PairPools] | None:
        """The pair's (version, pools) parsed last, if any."""
        return self.by_pair.get(pair)

    def put(self, pair: str, version: int, pools: PairPools) -> None:
        """Remember the pair's pools at ``version``."""
        self.by_pair[pair] = (version, pools)
