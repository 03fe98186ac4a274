"""`orders-migrate`: bring the database named by DATABASE_URL to the newest schema."""

from __future__ import annotations

import argparse
from importlib import resources

from alembic import command
from alembic.config import Config

from orders_shared.logging import configure_logging, get_logger
from orders_shared.settings import CommonSettings


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


def main(argv: list[str] | None = None) -> None:
    """Entry point of the one-shot migration step."""
    parser = argparse.ArgumentParser(prog="orders-migrate", description=__doc__)
    parser.add_argument("revision", nargs="?", default="head", help="target revision (default: head)")
    args = parser.parse_args(argv)
    settings = CommonSettings()
    configure_logging(settings.log_level, settings.log_format)
    log = get_logger()
    log.info("migration_started", revision=args.revision)
    upgrade(str(settings.database_url), args.revision)
    log.info("migration_finished", revision=args.revision)


if __name__ == "__main__":
    main()
