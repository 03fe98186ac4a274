"""The venues' pools in Postgres: one row per pair, so every worker trades the same liquidity.

A swap's pool update is written in the same transaction as its `executions` row and its `confirmed`
event: they commit together or not at all. The row lock (SELECT … FOR UPDATE) serialises the swaps of
one pair across workers, as a block does on chain.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncConnection

from orders_shared.models import metadata
from orders_venues import CpmmPool, CreatorFeeOn, DlmmParameters, DlmmPool, DlmmVParameters, PairPools
from orders_venues.pools import default_pools
from orders_venues.tokens import TOKENS

pools_table = sa.Table(
    "pools",
    metadata,
    sa.Column("pair", sa.Text, primary_key=True),
    sa.Column("state", JSONB, nullable=False),
    sa.Column("synced_at", sa.BigInteger, nullable=False),
    sa.Column("origin", sa.BigInteger, nullable=False),
    # Bumped by every write: a reader that holds this version's pools parsed need not parse them again.
    sa.Column("version", sa.BigInteger, nullable=False, server_default="0"),
)


def dump(pools: PairPools) -> dict[str, Any]:
    """A pair's pools as JSON (integers stay exact: jsonb numbers are arbitrary precision)."""
    raydium = asdict(pools.raydium)
    raydium["creator_fee_on"] = pools.raydium.creator_fee_on.name
    meteora = pools.meteora
    return {
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


def load(state: dict[str, Any]) -> PairPools:
    """The inverse of dump."""
    raydium = dict(state["raydium"])
    raydium["creator_fee_on"] = CreatorFeeOn[raydium["creator_fee_on"]]
    meteora = state["meteora"]
    return PairPools(
        base=TOKENS[state["base"]],
        quote=TOKENS[state["quote"]],
        raydium=CpmmPool(**raydium),
        meteora=DlmmPool(
            bin_step=meteora["bin_step"],
            active_id=meteora["active_id"],
            parameters=DlmmParameters(**meteora["parameters"]),
            v_parameters=DlmmVParameters(**meteora["v_parameters"]),
            bins={bin_id: (x, y) for bin_id, x, y in meteora["bins"]},
        ),
    )


async def seed(conn: AsyncConnection, now: int | None = None) -> None:
    """Create the default pools once; a no-op when they exist (every worker calls it at start)."""
    origin = int(time.time()) if now is None else now
    rows = [
        {"pair": name, "state": dump(pools), "synced_at": origin, "origin": origin}
        for name, pools in default_pools(now=origin).items()
    ]
    await conn.execute(insert(pools_table).values(rows).on_conflict_do_nothing(index_elements=["pair"]))


class PairState:
    """A pair's pools as read from Postgres, with when arbitrage last caught up and the market's origin."""

    __slots__ = ("origin", "pools", "synced_at", "version")

    def __init__(self, pools: PairPools, synced_at: int, origin: int, version: int = 0) -> None:
        self.pools = pools
        self.synced_at = synced_at
        self.origin = origin
        self.version = version


async def read(conn: AsyncConnection, pair: str) -> PairState:
    """One pair's pools as they are now (the api's quotes; the worker reads them in `orders_worker`)."""
    row = (await conn.execute(sa.select(pools_table).where(pools_table.c.pair == pair))).one()
    return PairState(load(row.state), row.synced_at, row.origin, row.version)
