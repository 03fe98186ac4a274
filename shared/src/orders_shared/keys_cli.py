"""`orders-api-key`: create, list and revoke API keys (the key is shown once, at creation)."""

from __future__ import annotations

import argparse
import asyncio
import sys

from orders_shared import repository
from orders_shared.auth import KEY_CACHE_S, create_key
from orders_shared.db import Conn, Database
from orders_shared.settings import CommonSettings


async def _create(conn: Conn, args: argparse.Namespace) -> int:
    key_id, client, key = await create_key(conn, args.name, args.client, admin=args.admin)
    kind = "admin (may launch tokens)" if args.admin else "client"
    sys.stdout.write(
        f"key id: {key_id}\nclient: {client}\nkind:   {kind}\nkey:    {key}\n"
        "This is the only time the key is shown: it is stored as a hash.\n"
    )
    return 0


async def _list(conn: Conn, _: argparse.Namespace) -> int:
    sys.stdout.write(f"{'key id':14} {'client':26} {'name':20} {'created':20} {'last used':20} revoked\n")
    for k in await repository.list_keys(conn):
        used = k.last_used_at.strftime("%Y-%m-%d %H:%M") if k.last_used_at else "never"
        sys.stdout.write(
            f"{k.key_id:14} {k.client:26} {k.name[:20]:20} "
            f"{k.created_at.strftime('%Y-%m-%d %H:%M'):20} {used:20} {k.revoked}\n"
        )
    return 0


async def _revoke(conn: Conn, args: argparse.Namespace) -> int:
    if not await repository.revoke_key(conn, args.key_id):
        sys.stderr.write(f"no key {args.key_id}\n")
        return 1
    sys.stdout.write(f"revoked {args.key_id} (api replicas stop accepting it within {KEY_CACHE_S:g} s)\n")
    return 0


_COMMANDS = {"create": _create, "list": _list, "revoke": _revoke}


async def _run(args: argparse.Namespace, database_url: str) -> int:
    database = Database(database_url, size=1, application_name="orders-api-key")
    async with database as db, db.connection() as conn:
        return await _COMMANDS[args.command](conn, args)


def main(argv: list[str] | None = None) -> None:
    """Entry point; DATABASE_URL says which database holds the keys."""
    parser = argparse.ArgumentParser(prog="orders-api-key", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create", help="create a key and print it once")
    create.add_argument("name", help="what the key is for, e.g. 'desk-a trading bot'")
    create.add_argument("--client", help="add the key to an existing client (default: a new client)")
    create.add_argument(
        "--admin", action="store_true", help="an operator's key: it may also launch tokens (orders-admin)"
    )
    commands.add_parser("list", help="list keys (never the keys themselves)")
    revoke = commands.add_parser("revoke", help="revoke a key by its id")
    revoke.add_argument("key_id")
    args = parser.parse_args(argv)
    raise SystemExit(asyncio.run(_run(args, str(CommonSettings().database_url))))


if __name__ == "__main__":
    main()
