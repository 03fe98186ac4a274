"""`orders-migrate`: bring the database named by DATABASE_URL to the newest schema."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from importlib import resources

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy import pool
from sqlalchemy.engine import make_url

from orders_shared.logging import configure_logging, get_logger
from orders_shared.reach import Failure, Unreachable, postgres, unreachable, wait_for_postgres
from orders_shared.settings import CommonSettings


def sqlalchemy_url(database_url: str) -> str:
    """`postgresql://…` (what every Postgres tool writes) in the form SQLAlchemy wants for psycopg 3."""
    url = make_url(database_url)
    if url.drivername not in ("postgresql", "postgres", "postgresql+psycopg"):
        raise ValueError(f"DATABASE_URL must be a postgresql:// URL, got {url.drivername}://")
    return url.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


def alembic_config(database_url: str) -> Config:
    """An Alembic config pointing at the migrations shipped inside this package."""
    config = Config()
    config.set_main_option("script_location", str(resources.files("orders_shared") / "migrations"))
    # Alembic's config is an INI file: a literal % in a password must be doubled.
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Run the migrations up to ``revision``."""
    command.upgrade(alembic_config(database_url), revision)


def create_database(database_url: str) -> bool:
    """Create the database the URL names if it does not exist; True if it was created."""
    url = make_url(database_url)
    name = url.database
    if not name:
        raise SystemExit("DATABASE_URL names no database")
    admin = sqlalchemy_url(url.set(database="postgres").render_as_string(hide_password=False))
    engine = sa.create_engine(admin, isolation_level="AUTOCOMMIT", poolclass=pool.NullPool)
    try:
        with engine.connect() as conn:
            if conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first():
                return False
            conn.execute(sa.text(f'CREATE DATABASE "{name.replace(chr(34), chr(34) * 2)}"'))
            return True
    finally:
        engine.dispose()


# The services' role may read and write rows, and nothing else: no DDL, no ownership.
_GRANTS = (
    'GRANT USAGE ON SCHEMA public TO "{role}"',
    'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO "{role}"',
    'GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO "{role}"',
    'REVOKE ALL ON TABLE alembic_version FROM "{role}"',
    'GRANT SELECT ON TABLE alembic_version TO "{role}"',
)


def grant_to(database_url: str, role: str) -> None:
    """Let ``role`` (the services' login) use the tables the migrations made, and no more."""
    if not role.replace("_", "").replace("-", "").isalnum():
        raise SystemExit(f"not a role name: {role!r}")
    engine = sa.create_engine(sqlalchemy_url(database_url), poolclass=pool.NullPool)
    try:
        with engine.begin() as conn:
            for grant in _GRANTS:
                conn.execute(sa.text(grant.format(role=role)))
    finally:
        engine.dispose()


def _await_postgres(database_url: str, timeout_s: float, *, creating: bool) -> None:
    """Wait for Postgres (STARTUP_TIMEOUT_S); a missing database is fine when it is about to be created."""
    try:
        asyncio.run(wait_for_postgres(database_url, timeout_s, application_name="orders-migrate"))
    except Unreachable as error:
        if not (creating and error.failure is Failure.UNKNOWN_DATABASE):
            raise


def main(argv: list[str] | None = None) -> None:
    """Entry point of the one-shot migration step: a Postgres it cannot use ends it with one message."""
    parser = argparse.ArgumentParser(prog="orders-migrate", description=__doc__)
    parser.add_argument("revision", nargs="?", default="head", help="target revision (default: head)")
    parser.add_argument(
        "--create-database",
        action="store_true",
        help="create the database first if it does not exist (dev, tests)",
    )
    parser.add_argument(
        "--grant-to",
        metavar="ROLE",
        help="after migrating, grant the services' role row access (SELECT/INSERT/UPDATE/DELETE) only",
    )
    args = parser.parse_args(argv)
    settings = CommonSettings()
    configure_logging(settings.log_level, settings.log_format)
    database_url = str(settings.database_url)
    try:
        _await_postgres(database_url, settings.startup_timeout_s, creating=args.create_database)
        _migrate(database_url, args.revision, create=args.create_database, grant_to_role=args.grant_to)
    except sa.exc.OperationalError as error:
        # Postgres went away, or refused what the check before could not try (the `postgres` database).
        sys.stderr.write(unreachable(postgres(database_url), error.orig or error).message() + "\n")
        raise SystemExit(os.EX_UNAVAILABLE) from None
    except Unreachable as error:
        sys.stderr.write(error.message() + "\n")
        raise SystemExit(os.EX_UNAVAILABLE) from None


def _migrate(database_url: str, revision: str, *, create: bool, grant_to_role: str | None) -> None:
    log = get_logger()
    if create and create_database(database_url):
        log.info("database_created")
    log.info("migration_started", revision=revision)
    upgrade(database_url, revision)
    log.info("migration_finished", revision=revision)
    if grant_to_role:
        grant_to(database_url, grant_to_role)
        log.info("grants_given", role=grant_to_role)


if __name__ == "__main__":
    main()
