"""The soak's token launch (``--launch``): one launch a few seconds ahead, sniper orders sent for it in
order before it opens, one of them cancelled, and a sniper refused once the pool trades.

Written against issue 14's contract (`POST /api/admin/launches` with an admin key from
`orders-api-key create NAME --admin`; sniper orders `{"type": "sniper", "tokenOut": SYMBOL, "maxPrice": …}`;
`GET /api/market/launches`). The snipers' own rules (maxPrice, submission order, one turn) are judged
by `tests.support.reconcile`; what this module checks itself it returns as ``problems``.
"""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx

from soak.mix import cancel, submit
from soak.watcher import Watcher
from tests.support.reconcile import CancelAnswer, Sniper

BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class LaunchPlan:
    """The launch: a token priced ``price`` SOL with ``liquidity`` SOL in its pool, opening in
    ``opens_in_s``, and ``snipers`` sniper orders of ``amount`` SOL each."""

    symbol: str = "SOAK"
    decimals: int = 6
    quote: str = "SOL"
    price: Decimal = Decimal("0.0001")
    liquidity: Decimal = Decimal(500)
    opens_in_s: float = 8
    snipers: int = 12
    amount: Decimal = Decimal(1)

    def sniper_body(self, n: int) -> dict[str, str | int]:
        """The ``n``-th sniper: a quarter capped below the open price (they cannot fill), a quarter with
        no maxPrice (slippage only), the rest capped at twice the open price."""
        body: dict[str, str | int] = {
            "type": "sniper",
            "tokenIn": self.quote,
            "tokenOut": self.symbol,
            "amountIn": str(self.amount),
            "slippageBps": 1000,
        }
        if n % 4 == 0:
            body["maxPrice"] = str(self.price / 2)
        elif n % 4 != 1:
            body["maxPrice"] = str(self.price * 2)
        return body


@dataclass
class LaunchRun:
    """What the soak sent for the launch and what it found wrong itself."""

    snipers: list[Sniper] = field(default_factory=list)
    cancels: dict[uuid.UUID, CancelAnswer] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    retries: Counter[str] = field(default_factory=Counter)


async def admin_key(database_url: str) -> str:
    """A new admin API key, made with the operator's command."""
    process = await asyncio.create_subprocess_exec(
        str(BIN / "orders-api-key"),
        "create",
        "soak-launch",
        "--admin",
        env={**os.environ, "DATABASE_URL": database_url},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await process.communicate()
    text = out.decode(errors="replace")
    if process.returncode != 0:
        raise RuntimeError(f"orders-api-key create --admin failed (are launches merged?):\n{text}")
    for line in text.splitlines():
        if line.startswith("key:"):
            return line.split(":", 1)[1].strip()
    raise RuntimeError(f"no key in the output of orders-api-key:\n{text}")


async def launch_and_snipe(
    client: httpx.AsyncClient, database_url: str, watcher: Watcher, plan: LaunchPlan
) -> LaunchRun:
    """Schedule the launch, then send its snipers one after the other (the order they must land in),
    following each, and cancel the last before the pool opens."""
    run = LaunchRun()
    key = await admin_key(database_url)
    opens_at = datetime.now(UTC) + timedelta(seconds=plan.opens_in_s)
    body = {
        "symbol": plan.symbol,
        "decimals": plan.decimals,
        "quote": plan.quote,
        "price": str(plan.price),
        "liquidity": str(plan.liquidity),
        "at": opens_at.isoformat(),
    }
    response = await client.post("/api/admin/launches", json=body, headers={"Authorization": f"Bearer {key}"})
    if response.status_code != 201:
        raise RuntimeError(f"launch refused: {response.status_code} {response.text}")
    for n in range(plan.snipers):
        sent = plan.sniper_body(n)
        order_id = await submit(client, sent, run.retries)
        await watcher.follow([order_id])
        max_price = sent.get("maxPrice")
        run.snipers.append(Sniper(order_id, Decimal(str(max_price)) if max_price else None))
    if datetime.now(UTC) >= opens_at:
        run.problems.append(f"the snipers took longer than {plan.opens_in_s}s to send: raise opens_in_s")
    last = run.snipers[-1].order_id
    run.cancels[last] = await cancel(client, last, run.retries)
    return run


async def after_open(client: httpx.AsyncClient, plan: LaunchPlan, run: LaunchRun) -> None:
    """Once every sniper has ended: the launch is listed open, and a new sniper for it is refused 422."""
    listed = (await client.get("/api/market/launches")).json().get("launches", [])
    mine = [launch for launch in listed if launch.get("symbol") == plan.symbol]
    if [launch.get("status") for launch in mine] != ["open"]:
        run.problems.append(f"GET /api/market/launches shows {mine}, not {plan.symbol} open")
    late = await client.post("/api/orders/execute", json=plan.sniper_body(1))
    if late.status_code != 422 or "tokenOut" not in late.text:
        run.problems.append(f"a sniper after the open was answered {late.status_code} {late.text[:200]}")
