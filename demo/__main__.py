"""`make demo`: five orders of different pairs and sizes, submitted at once, watched live; then two limit
orders: one that fills as the market moves, one cancelled.

    python -m demo                       the stack `make dev` runs (if none answers, one of its own)
    python -m demo --api URL --ws URL    a stack somewhere else
    python -m demo --start               always a throwaway stack: own database and vhost, open API

After the five market orders: a limit order selling 2 SOL at 0.5% above what the best route pays for it
then (it waits `open`), and one at twice that price. Once both are open, the second is cancelled and a
market buy of 150,000 USDC of SOL lifts the pools across the first one's price: the trigger fires it and
it fills. Exits 0 when the six market orders and the first limit order confirm and the second is cancelled.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from decimal import ROUND_UP, Decimal
from pathlib import Path

import httpx
from rich.console import Console
from rich.live import Live

from demo.board import Board, Row
from orders_client import ApiError, OrdersClient, OrdersError, default_ws_url
from orders_client import display as show

# Different pairs and sizes: small ones go to one venue, large ones split across both.
ORDERS: tuple[tuple[str, str, str], ...] = (
    ("SOL", "USDC", "3000"),
    ("USDC", "SOL", "250"),
    ("SOL", "USDT", "2"),
    ("JUP", "SOL", "20000"),
    ("BONK", "SOL", "50000000"),
)
SLIPPAGE_BPS = 100
# The limit orders: SOL sold for USDC at a price just above what the best route pays when it is placed,
# so it waits; then a market buy of SOL large enough to lift both venues' prices well past that margin
# (about 2%: Raydium's curve and Meteora's bins), so the trigger fires it on the next pass.
LIMIT_PAIR = ("SOL", "USDC")
LIMIT_AMOUNT = Decimal(2)
LIMIT_ABOVE = Decimal("0.005")
PUSH = ("USDC", "SOL", Decimal(150_000))
CANCELLED_AMOUNT = Decimal(1)
LIMIT_EXPIRY = timedelta(minutes=10)  # if the demo stops midway, nothing waits long on the stack


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


async def _run_order(client: OrdersClient, row: Row, opened: asyncio.Event | None = None) -> None:
    """Place the row's order and show its events until it ends; ``opened`` is set once it waits `open`
    (or has failed to)."""
    try:
        if row.limit_price is None:
            accepted = await client.submit(
                row.token_in, row.token_out, row.amount_in, slippage_bps=SLIPPAGE_BPS
            )
        else:
            expires_at = datetime.now(UTC) + LIMIT_EXPIRY
            accepted = await client.limit(
                row.token_in, row.token_out, row.amount_in, price=row.limit_price, expires_at=expires_at
            )
        row.order_id, row.status = accepted.order_id, "pending"
        async for event in client.follow(accepted.order_id):
            row.apply(event)
            if event.status == "open" and opened is not None:
                opened.set()
    except OrdersError as exc:
        row.status, row.error, row.finished = "error", str(exc), time.monotonic()
    finally:
        if opened is not None:
            opened.set()


async def _limit_orders(client: OrdersClient, board: Board) -> None:
    """One limit order that the market, moved by a large buy, fills; one that is cancelled while open."""
    token_in, token_out = LIMIT_PAIR
    quote = await client.quote(token_in, token_out, LIMIT_AMOUNT)
    pays = quote.expected_amount_out / LIMIT_AMOUNT
    fills = Row(
        token_in,
        token_out,
        LIMIT_AMOUNT,
        limit_price=_price(pays * (1 + LIMIT_ABOVE)),
        role=f"placed when the best route paid {show.significant(pays)}; waits open until the market moves",
    )
    cancelled = Row(
        token_in,
        token_out,
        CANCELLED_AMOUNT,
        limit_price=_price(pays * 2),
        role="far above the market; cancelled once it is open",
    )
    push = Row(*PUSH, role="a large buy of SOL, to lift the pools across the first limit order's price")
    board.rows += [fills, cancelled]
    opened = (asyncio.Event(), asyncio.Event())
    async with asyncio.TaskGroup() as group:
        group.create_task(_run_order(client, fills, opened[0]))
        group.create_task(_run_order(client, cancelled, opened[1]))
        await asyncio.gather(*(event.wait() for event in opened))
        await _cancel(client, cancelled)
        board.rows.append(push)
        await _run_order(client, push)


async def _cancel(client: OrdersClient, row: Row) -> None:
    """Cancel the row's order if it still waits; a refusal is shown on its row."""
    if row.order_id is None or row.ended:
        return
    try:
        await client.cancel(row.order_id)  # its stream brings the `cancelled` event to the row
    except OrdersError as exc:
        row.error = f"cancel refused: {exc}"


def _price(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), ROUND_UP)


async def run(api: str, ws: str, api_key: str | None, within: float, console: Console) -> int:
    """The five market orders at once, then the limit orders; 0 when every order ends as planned."""
    board = Board(
        [Row(a, b, Decimal(amount)) for a, b, amount in ORDERS],
        title=f"5 concurrent orders, then a limit order filling and one cancelled · {api}",
    )
    markets = list(board.rows)
    async with OrdersClient(api, ws, api_key=api_key) as client:
        with Live(board, console=console, refresh_per_second=10):
            try:
                async with asyncio.timeout(within):
                    await asyncio.gather(*(_run_order(client, row) for row in markets))
                    await _limit_orders(client, board)
            except TimeoutError:
                for row in board.rows:
                    if not row.ended:
                        row.status, row.error = "timeout", f"no end within {within:.0f} s"
                        await _cancel(client, row)  # leave no limit order waiting on the stack
    if not console.is_terminal:
        console.line()
    console.print(board.summary(markets), style="bold")
    limits = board.rows[len(markets) :]
    for line in _limit_summary(limits):
        console.print(line, style="bold", highlight=False)
    planned = ["confirmed"] * len(markets) + ["confirmed", "cancelled", "confirmed"]
    return 0 if [row.status for row in board.rows] == planned else 1


def _limit_summary(rows: Sequence[Row]) -> list[str]:
    """What became of the limit orders, and whether the buy that moved the market fired the first."""
    if len(rows) < 3:
        return ["limit orders: not all placed"]
    fills, cancelled, push = rows
    if fills.status != "confirmed":
        first = f"limit order {fills.status}: {fills.error or 'it did not fill'}"
    else:
        if fills.fired_at and push.ended_at and fills.fired_at >= push.ended_at:
            why = f"fired {(fills.fired_at - push.ended_at).total_seconds():.1f} s after the buy landed"
        else:
            why = "fired before the buy landed: the market moved on its own"
        first = (
            f"limit order filled: {show.amount(fills.amount_out)} {fills.token_out} at "
            f"{show.significant(fills.executed_price)} (limit {show.significant(fills.limit_price)}), {why}"
        )
    if cancelled.status == "cancelled":
        second = "limit order cancelled while open"
    else:
        second = f"limit order to cancel: {cancelled.status} {cancelled.error or ''}".rstrip()
    return [first, second]


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
