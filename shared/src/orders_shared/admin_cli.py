"""`orders-admin`: an operator's commands on the simulated market.

    orders-admin launch PUMP --decimals 6 --quote SOL --price 0.0001 --liquidity 500 [--at RFC3339 | --in 30s]
    orders-admin launches

`launch` writes the token and its pools (the same function as `POST /api/admin/launches`) and announces it
on RabbitMQ; DATABASE_URL and AMQP_URL say where.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation

from orders_shared.amqp import connect, publish
from orders_shared.db import Database
from orders_shared.errors import InvalidOrder
from orders_shared.launches import launch, plan, refresh
from orders_shared.settings import CommonSettings
from orders_shared.topology import LAUNCH_KEY, declare
from orders_venues import Catalog

_DURATION = re.compile(r"^(\d+)(s|m|h|d)$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def duration(text: str) -> timedelta:
    """``30s``, ``10m``, ``2h``, ``1d`` as a timedelta."""
    match = _DURATION.match(text.strip())
    if match is None:
        raise argparse.ArgumentTypeError(f"{text!r}: a duration like 30s, 10m, 2h or 1d")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def moment(text: str) -> datetime:
    """An RFC 3339 time with its zone."""
    try:
        at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: an RFC 3339 time, e.g. 2026-12-01T12:00:00Z") from None
    if at.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r}: give the time zone, e.g. Z or +01:00")
    return at


def amount(text: str) -> Decimal:
    """A decimal, never a float."""
    try:
        return Decimal(text)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"{text!r}: a decimal number") from None


async def _launch(args: argparse.Namespace, settings: CommonSettings, catalog: Catalog) -> int:
    now = datetime.now(UTC)
    at = args.at if args.at is not None else (now + args.in_ if args.in_ is not None else None)
    try:
        planned = plan(
            args.symbol,
            decimals=args.decimals,
            quote=args.quote,
            price=args.price,
            liquidity=args.liquidity,
            at=at,
            mint=args.mint,
            now=now,
        )
    except InvalidOrder as exc:
        sys.stderr.write(f"--{exc.field}: {exc.message}\n")
        return 2
    database = Database(str(settings.database_url), size=1, application_name="orders-admin")
    async with database as db, db.connection() as conn:
        created = await launch(conn, catalog, planned)
    if not created:
        sys.stderr.write(f"a token with symbol {planned.token.symbol} or that mint exists\n")
        return 1
    connection = await connect(settings.amqp_url, name="orders-admin")
    try:
        channel = await connection.channel(publisher_confirms=True)
        topology = await declare(channel, delivery_limit=settings.amqp_delivery_limit)
        await publish(topology.market, LAUNCH_KEY, planned.message())
    finally:
        await connection.close()
    view = planned.view(datetime.now(UTC))
    sys.stdout.write(
        f"launched {view['symbol']} (mint {view['mint']}, {view['decimals']} decimals): "
        f"{view['pair']} opens at {view['opensAt']} at {view['price']} {planned.quote.symbol}, "
        f"with {view['liquidity']} {planned.quote.symbol} of liquidity\n"
    )
    return 0


async def _launches(_: argparse.Namespace, settings: CommonSettings, catalog: Catalog) -> int:
    database = Database(str(settings.database_url), size=1, application_name="orders-admin")
    async with database as db, db.connection() as conn:
        launches = await refresh(conn, catalog)
    now = datetime.now(UTC)
    sys.stdout.write(f"{'symbol':10} {'pair':14} {'opens at':26} {'price':>14} {'liquidity':>12} status\n")
    for known in launches:
        view = known.view(now)
        sys.stdout.write(
            f"{view['symbol']:10} {view['pair']:14} {view['opensAt']:26} {view['price']:>14} "
            f"{view['liquidity']:>12} {view['status']}\n"
        )
    return 0


def main(argv: list[str] | None = None) -> None:
    """Entry point."""
    parser = argparse.ArgumentParser(prog="orders-admin", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    new = commands.add_parser("launch", help="launch a token: its Raydium CPMM pool opens at --at / --in")
    new.add_argument("symbol", help="2 to 10 letters and digits, e.g. PUMP")
    new.add_argument("--decimals", type=int, default=6, help="the token's decimals (default 6)")
    new.add_argument("--quote", default="SOL", help="the token it trades against (default SOL)")
    new.add_argument("--price", type=amount, required=True, help="quote per token at the opening")
    new.add_argument("--liquidity", type=amount, required=True, help="quote-token amount in the pool")
    new.add_argument("--mint", help="its mint address (default: a new one)")
    when = new.add_mutually_exclusive_group()
    when.add_argument("--at", type=moment, help="RFC 3339 opening time (default now)")
    when.add_argument("--in", dest="in_", type=duration, help="opening after this long, e.g. 30s")
    commands.add_parser("launches", help="list the launches")
    args = parser.parse_args(argv)
    run = _launch if args.command == "launch" else _launches
    raise SystemExit(asyncio.run(run(args, CommonSettings(), Catalog())))


if __name__ == "__main__":
    main()
