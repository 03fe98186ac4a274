"""`orders`: submit, follow, quote and read orders from a terminal.

    orders submit SOL USDC 1.5 --follow     submit, then watch it move through its statuses
    orders quote SOL USDC 1.5               both venues' quotes and the route an order would take
    orders get <id>                         one order and its timeline
    orders list [--status confirmed]        recent orders, newest first
    orders follow <id> [--after-seq N]      watch an order already submitted

Options (each also from the environment): --api ($ORDERS_API_URL), --ws ($ORDERS_WS_URL),
--api-key ($ORDERS_API_KEY, sent as `Authorization: Bearer`); --json prints the engine's JSON instead.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import httpx
from rich.console import Console, Group
from rich.live import Live
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from orders_client import display
from orders_client._client import OrdersClient
from orders_client._errors import ApiError, StreamError
from orders_client._models import LIFECYCLE, OrderEvent, RouteLeg

EXIT_FAILED = 1  # the order failed, or the engine could not be reached
EXIT_REFUSED = 2  # the api refused the request (4xx)


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--api", help="api base URL (default $ORDERS_API_URL or http://127.0.0.1:8000)")
    common.add_argument("--ws", help="notifier base URL (default $ORDERS_WS_URL or ws://<api host>:8001)")
    common.add_argument("--api-key", help="API key (default $ORDERS_API_KEY)")
    common.add_argument("--json", action="store_true", help="print the engine's JSON")

    parser = argparse.ArgumentParser(
        prog="orders", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    submit = commands.add_parser("submit", parents=[common], help="submit a market order")
    submit.add_argument("token_in", metavar="TOKEN_IN")
    submit.add_argument("token_out", metavar="TOKEN_OUT")
    submit.add_argument("amount", metavar="AMOUNT", help="amount of TOKEN_IN to sell")
    submit.add_argument("--slippage-bps", type=int)
    submit.add_argument("--idempotency-key", help="send again to get the first order back")
    submit.add_argument("--follow", "-f", action="store_true", help="watch it until it ends")

    quote = commands.add_parser("quote", parents=[common], help="quote both venues without ordering")
    quote.add_argument("token_in", metavar="TOKEN_IN")
    quote.add_argument("token_out", metavar="TOKEN_OUT")
    quote.add_argument("amount", metavar="AMOUNT")
    quote.add_argument("--slippage-bps", type=int)

    get = commands.add_parser("get", parents=[common], help="one order and its timeline")
    get.add_argument("order_id", metavar="ORDER_ID")

    listing = commands.add_parser("list", parents=[common], help="recent orders, newest first")
    listing.add_argument("--status", choices=[*LIFECYCLE, "failed"])
    listing.add_argument("--limit", type=int, default=20)
    listing.add_argument("--cursor")

    follow = commands.add_parser("follow", parents=[common], help="watch an order until it ends")
    follow.add_argument("order_id", metavar="ORDER_ID")
    follow.add_argument("--after-seq", type=int, default=0)
    return parser


def _json_line(data: Any) -> None:
    sys.stdout.write(json.dumps(data) + "\n")
    sys.stdout.flush()


async def _follow(client: OrdersClient, console: Console, order_id: str, after_seq: int, title: str) -> int:
    events: list[OrderEvent] = []
    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description:<10}"),
        BarColumn(bar_width=30),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
    )
    task = progress.add_task("waiting", total=len(LIFECYCLE))

    def view() -> Group:
        return Group(Text(title, style="bold"), display.timeline(events), progress)

    with Live(view(), console=console, refresh_per_second=12) as live:
        async for event in client.follow(order_id, after_seq=after_seq):
            events.append(event)
            step = LIFECYCLE.index(event.status) + 1 if event.status in LIFECYCLE else len(LIFECYCLE)
            progress.update(task, completed=step, description=event.status)
            if event.terminal:
                progress.stop_task(task)
            live.update(view())
    if not console.is_terminal:
        console.line()  # a live display that never drew leaves its last line open
    if not events:
        console.print(f"no events after seq {after_seq}: the order had already ended")
        return 0
    last = events[-1]
    if last.status == "confirmed":
        console.print(
            Text.assemble(
                ("confirmed ", "bold green"),
                f"{display.amount(last.amount_out)} out at {display.amount(last.executed_price)} "
                f"via {display.route(_chosen(events), _legs(events))}",
            )
        )
        return 0
    if last.status == "failed":
        console.print(Text(f"failed: {last.error_code}: {last.error}", style="bold red"))
    return EXIT_FAILED


def _chosen(events: Sequence[OrderEvent]) -> str | None:
    return next((e.dex_chosen for e in reversed(events) if e.dex_chosen), None)


def _legs(events: Sequence[OrderEvent]) -> list[RouteLeg] | None:
    return next((e.route for e in reversed(events) if e.route), None)


async def _follow_json(client: OrdersClient, order_id: str, after_seq: int) -> int:
    last: OrderEvent | None = None
    async for event in client.follow(order_id, after_seq=after_seq):
        _json_line(event.raw)
        last = event
    return 0 if last is not None and last.status == "confirmed" else EXIT_FAILED


async def _run(args: argparse.Namespace, console: Console) -> int:
    async with OrdersClient(args.api, args.ws, api_key=args.api_key) as client:
        return await _COMMANDS[args.command](client, args, console)


async def _submit(client: OrdersClient, args: argparse.Namespace, console: Console) -> int:
    accepted = await client.submit(
        args.token_in,
        args.token_out,
        args.amount,
        slippage_bps=args.slippage_bps,
        idempotency_key=args.idempotency_key,
    )
    if args.json:
        _json_line({"orderId": accepted.order_id, "ignoredFields": accepted.ignored_fields})
        return await _follow_json(client, accepted.order_id, 0) if args.follow else 0
    verb = "already submitted as" if accepted.replayed else "accepted:"
    console.print(f"{args.token_in} → {args.token_out} {args.amount} {verb} [bold]{accepted.order_id}")
    if accepted.ignored_fields:
        console.print(f"[yellow]ignored fields: {', '.join(accepted.ignored_fields)}")
    if not args.follow:
        return 0
    title = f"{display.short_id(accepted.order_id)}  {args.token_in} → {args.token_out} {args.amount}"
    return await _follow(client, console, accepted.order_id, 0, title)


async def _follow_command(client: OrdersClient, args: argparse.Namespace, console: Console) -> int:
    if args.json:
        return await _follow_json(client, args.order_id, args.after_seq)
    return await _follow(client, console, args.order_id, args.after_seq, args.order_id)


async def _quote(client: OrdersClient, args: argparse.Namespace, console: Console) -> int:
    quote = await client.quote(args.token_in, args.token_out, args.amount, slippage_bps=args.slippage_bps)
    if args.json:
        _json_line(quote.raw)
        return 0
    console.print(f"[bold]{quote.token_in} → {quote.token_out} {display.amount(quote.amount_in)}")
    console.print(display.quotes_table(quote.quotes, quote.token_out, _best_single(quote.route)))
    console.print(
        f"route: [bold]{display.route(quote.dex_chosen, quote.route)}[/]  "
        f"expected {display.amount(quote.expected_amount_out)}, "
        f"at least {display.amount(quote.min_amount_out)} (slippage {quote.slippage_bps} bps)"
    )
    return 0


async def _get(client: OrdersClient, args: argparse.Namespace, console: Console) -> int:
    order = await client.get(args.order_id)
    if args.json:
        _json_line(order.raw)
        return 0
    console.print(
        Text.assemble(
            (order.order_id, "bold"),
            f"  {order.token_in} → {order.token_out} {display.amount(order.amount_in)}  ",
            display.status(order.status),
        )
    )
    console.print(display.timeline(order.events))
    if order.failure_code:
        console.print(f"[red]{order.failure_code}: {order.failure_reason}")
    return 0


async def _list(client: OrdersClient, args: argparse.Namespace, console: Console) -> int:
    page = await client.list(status=args.status, limit=args.limit, cursor=args.cursor)
    if args.json:
        _json_line(page.raw)
        return 0
    table = Table(box=None, padding=(0, 2, 0, 0), header_style="bold")
    table.add_column("order", no_wrap=True, min_width=36)
    for name in ("pair", "amount in", "status", "amount out", "venue"):
        table.add_column(name, no_wrap=True, justify="right" if name.startswith("amount") else "left")
    for o in page.orders:
        table.add_row(
            o.order_id,
            f"{o.token_in}→{o.token_out}",
            display.amount(o.amount_in),
            display.status(o.status),
            display.amount(o.amount_out),
            o.dex_chosen or "—",
        )
    console.print(table)
    if page.next_cursor:
        console.print(f"more: orders list --cursor {page.next_cursor}")
    return 0


_Command = Callable[[OrdersClient, argparse.Namespace, Console], Awaitable[int]]
_COMMANDS: dict[str, _Command] = {
    "submit": _submit,
    "follow": _follow_command,
    "quote": _quote,
    "get": _get,
    "list": _list,
}


def _best_single(route: Sequence[RouteLeg]) -> str | None:
    return route[0].venue if len(route) == 1 else None


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = _parser().parse_args(argv)
    console = Console()
    errors = Console(stderr=True)
    try:
        return asyncio.run(_run(args, console))
    except ApiError as exc:
        errors.print(f"[bold red]error:[/] {exc}", highlight=False)
        for field_error in exc.errors:
            errors.print(f"  {field_error.field}: {field_error.message}", highlight=False)
        return EXIT_REFUSED if exc.status < 500 else EXIT_FAILED
    except StreamError as exc:
        errors.print(f"[bold red]stream error:[/] {exc}", highlight=False)
        return EXIT_FAILED
    except httpx.TransportError as exc:
        errors.print(f"[bold red]cannot reach the api:[/] {exc!r}", highlight=False)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
