"""`orders-api-key`: create, list and revoke API keys (the key is shown once, at creation)."""

from __future__ import annotations

import argparse
import asyncio
import sys

import sqlalchemy as sa

from orders_shared.auth import api_keys_table, create_key, revoke_key
from orders_shared.db import create_engine
from orders_shared.settings import CommonSettings


async def _run(args: argparse.Namespace, database_url: str) -> int:
    engine = create_engine(database_url, pool_size=1, application_name="orders-api-key")
    try:
        async with engine.begin() as conn:
            if args.command == "create":
                key_id, client, key = await create_key(conn, args.name, args.client)
                sys.stdout.write(
                    f"key id: {key_id}\nclient: {client}\nkey:    {key}\n"
                    "This is the only time the key is shown: it is stored as a hash.\n"
                )
            elif args.command == "list":
                rows = await conn.execute(sa.select(api_keys_table).order_by(api_keys_table.c.created_at))
                sys.stdout.write(
                    f"{'key id':14} {'client':26} {'name':20} {'created':20} {'last used':20} revoked\n"
                )
                for r in rows:
                    used = r.last_used_at.strftime("%Y-%m-%d %H:%M") if r.last_used_at else "never"
                    sys.stdout.write(
                        f"{r.key_id:14} {r.client:26} {r.name[:20]:20} "
                        f"{r.created_at.strftime('%Y-%m-%d %H:%M'):20} {used:20} {r.revoked}\n"
                    )
            elif not await revoke_key(conn, args.key_id):
                sys.stderr.write(f"no key {args.key_id}\n")
                return 1
            else:
                sys.stdout.write(f"revoked {args.key_id} (api replicas stop accepting it within 10 s)\n")
    finally:
        await engine.dispose()
    return 0


def main(argv: list[str] | None = None) -> None:
    """Entry point; DATABASE_URL says which database holds the keys."""
    parser = argparse.ArgumentParser(prog="orders-api-key", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create", help="create a key and print it once")
    create.add_argument("name", help="what the key is for, e.g. 'desk-a trading bot'")
    create.add_argument("--client", help="add the key to an existing client (default: a new client)")
    commands.add_parser("list", help="list keys (never the keys themselves)")
    revoke = commands.add_parser("revoke", help="revoke a key by its id")
    revoke.add_argument("key_id")
    args = parser.parse_args(argv)
    raise SystemExit(asyncio.run(_run(args, str(CommonSettings().database_url))))


if __name__ == "__main__":
    main()
