"""`make demo`: five orders of different pairs and sizes, submitted at once, watched live.

    python -m demo                       the stack `make dev` runs (if none answers, one of its own)
    python -m demo --api URL --ws URL    a stack somewhere else
    python -m demo --start               always a throwaway stack: own database and vhost, open API

Exits 0 when all five confirm.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from decimal import Decimal
from pathlib import Path

import httpx
from rich.console import Console
from rich.live import Live

from demo.board import Board, Row
from orders_client import ApiError, OrdersClient, OrdersError, default_ws_url

# Different pairs and sizes: small ones go to one venue, large ones split across both.
ORDERS: tuple[tuple[str, str, str], ...] = (
    ("SOL", "USDC", "3000"),
    ("USDC", "SOL", "250"),
    ("SOL", "USDT", "2"),
    ("JUP", "SOL", "20000"),
    ("BONK", "SOL", "50000000"),
)
SLIPPAGE_BPS = 100


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m demo", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--api", default=os.environ.get("ORDERS_API_URL", "http://127.0.0.1:8000"))
    parser.add_argument("--ws", default=os.environ.get("ORDERS_WS_URL"), help="default: the api's host, 8001")
    parser.add_argument("--api-key", default=os.environ.get("ORDERS_API_KEY"))
    parser.add_argument("--start", action="store_true", help="start a throwaway stack, whatever runs")
    parser.add_argument("--timeout", type=float, default=60, help="seconds to wait for all five")
    return parser


async def _run_order(client: OrdersClient, row: Row) -> None:
    try:
        accepted = await client.submit(row.token_in, row.token_out, row.amount_in, slippage_bps=SLIPPAGE_BPS)
        row.order_id, row.status = accepted.order_id, "pending"
        async for event in client.follow(accepted.order_id):
            row.apply(event)
    except OrdersError as exc:
        row.status, row.error = "error", str(exc)


async def run(api: str, ws: str, api_key: str | None, within: float, console: Console) -> int:
    """Submit the five orders at once and show them until they end; 0 when all confirm."""
    board = Board(
        [Row(a, b, Decimal(amount)) for a, b, amount in ORDERS], title=f"5 concurrent orders · {api}"
    )
    async with OrdersClient(api, ws, api_key=api_key) as client:
        with Live(board, console=console, refresh_per_second=10):
            try:
                async with asyncio.timeout(within):
                    await asyncio.gather(*(_run_order(client, row) for row in board.rows))
            except TimeoutError:
                for row in board.rows:
                    if row.finished is None:
                        row.status, row.error = "timeout", f"no end within {within:.0f} s"
    if not console.is_terminal:
        console.line()
    console.print(board.summary(), style="bold")
    return 0 if all(row.status == "confirmed" for row in board.rows) else 1


def _reachable(api: str) -> bool:
    try:
        return httpx.get(f"{api}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@contextmanager
def throwaway_stack(console: Console) -> Iterator[tuple[str, str]]:
    """api, worker and notifier with an open API, on a database and vhost of their own; removed after."""
    # The test suite's helpers: the same processes `make dev` runs, on free ports.
    from tests.support.infra import throwaway_database, throwaway_vhost
    from tests.support.services import running_stack

    with ExitStack() as stack:
        with console.status("starting a throwaway stack: database, vhost, api, worker, notifier…"):
            logs = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="orders-demo-")))
            database_url = stack.enter_context(throwaway_database("orders_demo"))
            amqp_url = stack.enter_context(throwaway_vhost("orders-demo"))
            env = {"DATABASE_URL": database_url, "AMQP_URL": amqp_url, "AUTH_REQUIRED": "false"}
            services = stack.enter_context(running_stack(env, logs))
        console.print(f"started: api {services.api}, notifier {services.ws} (logs in {logs})")
        yield services.api, services.ws


def main(argv: Sequence[str] | None = None) -> int:
    """Run the demo; returns the exit status."""
    args = _parser().parse_args(argv)
    console = Console()
    try:
        if args.start or not _reachable(args.api):
            if not args.start:
                console.print(f"no api answers at {args.api}: starting one of its own (--start)")
            with throwaway_stack(console) as (api, ws):
                return asyncio.run(run(api, ws, args.api_key, args.timeout, console))
        ws = args.ws or default_ws_url(args.api)
        return asyncio.run(run(args.api, ws, args.api_key, args.timeout, console))
    except ApiError as exc:
        console.print(f"[red]the api refused: {exc}")
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
