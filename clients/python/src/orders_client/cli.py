"""`orders`: submit, follow, quote, cancel and read orders from a terminal.

    orders submit SOL USDC 1.5 --follow                 a market order; watch it move through its statuses
    orders limit SOL USDC 1.5 --price 152 --expires 10m a limit order: waits open until it pays 152 USDC/SOL
    orders snipe SOL PUMP 0.5 --slippage-bps 500 [--max-price 0.0002] [--expires 1h]
                                                        a sniper order: fires when PUMP's pool opens
    orders cancel <id>                                  cancel a waiting (open) order
    orders quote SOL USDC 1.5                           both venues' quotes and the route an order would take
    orders get <id>                                     one order and its timeline
    orders list [--type limit] [--status open]          recent orders, newest first
    orders follow <id> [--after-seq N]                  watch an order already submitted

--expires takes a duration from now (30s, 10m, 2h, 1d) or an RFC 3339 time (2026-12-01T12:00:00Z).
Options (each also from the environment): --api ($ORDERS_API_URL), --ws ($ORDERS_WS_URL),
--api-key ($ORDERS_API_KEY, sent as `Authorization: Bearer`); --json prints the engine's JSON instead.
Exit status: 0 done (a followed order confirmed); 1 it failed, or the engine could not be reached;
2 the api refused the request; 3 a followed order ended unfilled (cancelled or expired).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
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
from orders_client._expiry import parse_expiry, rfc3339
from orders_client._models import ORDER_TYPES, STATUSES, Accepted, Order, OrderEvent, RouteLeg

EXIT_FAILED = 1  # the order failed, or the engine could not be reached
EXIT_REFUSED = 2  # the api refused the request (4xx)
EXIT_UNFILLED = 3  # a followed order ended without filling: cancelled or expired


def _expiry(text: str) -> datetime:
    try:
        return parse_expiry(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _placing(parser: argparse.ArgumentParser) -> None:
    """The arguments every order takes: what to sell and buy, how much, an idempotency key, --follow."""
    parser.add_argument("token_in", metavar="TOKEN_IN")
    parser.add_argument("token_out", metavar="TOKEN_OUT")
    parser.add_argument("amount", metavar="AMOUNT", help="amount of TOKEN_IN to sell")
    parser.add_argument("--idempotency-key", help="send again to get the first order back")
    parser.add_argument("--follow", "-f", action="store_true", help="watch it until it ends")


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
    _placing(submit)
    submit.add_argument("--slippage-bps", type=int)

    limit = commands.add_parser("limit", parents=[common], help="place a limit order")
    _placing(limit)
    limit.add_argument(
        "--price", required=True, help="worst average price, TOKEN_OUT per TOKEN_IN, fees included"
    )
    limit.add_argument(
        "--expires", type=_expiry, help="30s, 10m, 2h, 1d or an RFC 3339 time (default: the engine's, 24 h)"
    )

    snipe = commands.add_parser("snipe", parents=[common], help="place a sniper order for a token launch")
    _placing(snipe)
    snipe.add_argument("--slippage-bps", type=int, required=True)
    snipe.add_argument("--max-price", help="worst average price paid, TOKEN_IN per TOKEN_OUT")
    snipe.add_argument("--expires", type=_expiry, help="30s, 10m, 2h, 1d or an RFC 3339 time")

    cancel = commands.add_parser("cancel", parents=[common], help="cancel a waiting (open) order")
    cancel.add_argument("order_id", metavar="ORDER_ID")

    quote = commands.add_parser("quote", parents=[common], help="quote both venues without ordering")
    quote.add_argument("token_in", metavar="TOKEN_IN")
    quote.add_argument("token_out", metavar="TOKEN_OUT")
    quote.add_argument("amount", metavar="AMOUNT")
    quote.add_argument("--slippage-bps", type=int)

    get = commands.add_parser("get", parents=[common], help="one order and its timeline")
    get.add_argument("order_id", metavar="ORDER_ID")

    listing = commands.add_parser("list", parents=[common], help="recent orders, newest first")
    listing.add_argument("--type", choices=ORDER_TYPES)
    listing.add_argument("--status", choices=STATUSES)
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
    task = progress.add_task("waiting", total=len(display.steps_of(events)))

    def view() -> Group:
        unfilled = bool(events) and events[-1].terminal and events[-1].status != "confirmed"
        # An order that ended without filling has no progress left to show: its timeline says how it ended.
        return Group(Text(title, style="bold"), display.timeline(events), *([] if unfilled else [progress]))

    with Live(view(), console=console, refresh_per_second=12) as live:
        async for event in client.follow(order_id, after_seq=after_seq):
            events.append(event)
            steps = display.steps_of(events)
            if event.status in steps:  # back to `open` after a missed price moves the bar back
                progress.update(task, total=len(steps), completed=steps.index(event.status) + 1)
            progress.update(task, description=f"{event.status} again" if event.missed else event.status)
            if event.terminal:
                progress.stop_task(task)
            live.update(view())
    if not console.is_terminal:
        console.line()  # a live display that never drew leaves its last line open
    if not events:
        console.print(f"no events after seq {after_seq}: the order had already ended")
        return 0
    return _ending(console, events)


def _ending(console: Console, events: Sequence[OrderEvent]) -> int:
    """The last line of a followed order, and the exit status it gives."""
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
    if last.status in ("cancelled", "expired"):
        console.print(Text(f"{last.status}: it never filled", style="bold yellow"))
        return EXIT_UNFILLED
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
    if last is not None and last.status in ("cancelled", "expired"):
        return EXIT_UNFILLED
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
    return await _placed(client, args, console, accepted, "")


async def _limit(client: OrdersClient, args: argparse.Namespace, console: Console) -> int:
    accepted = await client.limit(
        args.token_in,
        args.token_out,
        args.amount,
        price=args.price,
        expires_at=args.expires,
        idempotency_key=args.idempotency_key,
    )
    return await _placed(client, args, console, accepted, f"limit {args.price} ")


async def _snipe(client: OrdersClient, args: argparse.Namespace, console: Console) -> int:
    accepted = await client.snipe(
        args.token_in,
        args.token_out,
        args.amount,
        slippage_bps=args.slippage_bps,
        max_price=args.max_price,
        expires_at=args.expires,
        idempotency_key=args.idempotency_key,
    )
    terms = f"snipe, max price {args.max_price} " if args.max_price else "snipe "
    return await _placed(client, args, console, accepted, terms)


async def _placed(
    client: OrdersClient, args: argparse.Namespace, console: Console, accepted: Accepted, terms: str
) -> int:
    """Say that the order was accepted (``terms``: what kind it is), then follow it if asked."""
    if args.json:
        _json_line({"orderId": accepted.order_id, "ignoredFields": accepted.ignored_fields})
        return await _follow_json(client, accepted.order_id, 0) if args.follow else 0
    verb = "already submitted as" if accepted.replayed else "accepted:"
    pair = f"{args.token_in} → {args.token_out} {args.amount}"
    console.print(f"{pair} {terms}{verb} [bold]{accepted.order_id}", highlight=False)
    if accepted.ignored_fields:
        console.print(f"[yellow]ignored fields: {', '.join(accepted.ignored_fields)}")
    if terms:
        until = f" until {rfc3339(args.expires)}" if args.expires else ""
        console.print(
            f"it waits open{until}; cancel it with: orders cancel {accepted.order_id}", highlight=False
        )
    if not args.follow:
        return 0
    title = f"{display.short_id(accepted.order_id)}  {pair} {terms}".rstrip()
    return await _follow(client, console, accepted.order_id, 0, title)


async def _cancel(client: OrdersClient, args: argparse.Namespace, console: Console) -> int:
    order = await client.cancel(args.order_id)
    if args.json:
        _json_line(order.raw)
        return 0
    _headline(console, order)
    console.print(display.timeline(order.events))
    return 0


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
    _headline(console, order)
    for line in _terms(order):
        console.print(line, highlight=False)
    console.print(display.timeline(order.events))
    if order.failure_code:
        console.print(f"[red]{order.failure_code}: {order.failure_reason}")
    return 0


def _headline(console: Console, order: Order) -> None:
    console.print(
        Text.assemble(
            (order.order_id, "bold"),
            f"  {order.type}  {order.token_in} → {order.token_out} {display.amount(order.amount_in)}  ",
            display.status(order.status),
        )
    )


def _terms(order: Order) -> list[str]:
    """A waiting order's terms and, while it is open, why it has not fired yet."""
    lines = []
    if order.limit_price is not None:
        price = display.amount(order.limit_price)
        lines.append(f"limit price {price} {order.token_out} per {order.token_in}")
    if order.max_price is not None:
        price = display.amount(order.max_price)
        lines.append(f"max price {price} {order.token_in} per {order.token_out}")
    if order.expires_at is not None:
        lines.append(f"expires at {rfc3339(order.expires_at)}")
    if order.status == "open" and order.waiting_reason:
        lines.append(f"waiting: {order.waiting_reason}")
    elif order.status == "open" and order.current_price is not None:
        lines.append(f"the best route pays {display.amount(order.current_price)} now")
    return lines


async def _list(client: OrdersClient, args: argparse.Namespace, console: Console) -> int:
    page = await client.list(type=args.type, status=args.status, limit=args.limit, cursor=args.cursor)
    if args.json:
        _json_line(page.raw)
        return 0
    table = Table(box=None, padding=(0, 2, 0, 0), header_style="bold")
    table.add_column("order", no_wrap=True, min_width=36)
    for name in ("type", "pair", "amount in", "price", "status", "amount out", "venue"):
        right = name.startswith("amount") or name == "price"
        table.add_column(name, no_wrap=True, justify="right" if right else "left")
    for o in page.orders:
        table.add_row(
            o.order_id,
            o.type,
            f"{o.token_in}→{o.token_out}",
            display.amount(o.amount_in),
            display.amount(o.limit_price if o.limit_price is not None else o.max_price),
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
    "limit": _limit,
    "snipe": _snipe,
    "cancel": _cancel,
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
