"""The services' Postgres role can read and write rows and nothing more; migrations use their own."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy import pool
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ProgrammingError

from orders_shared.migrate import sqlalchemy_url
from tests.support.infra import ADMIN_DATABASE_URL, throwaway_database
from tests.support.services import BIN


@pytest.fixture(scope="module")
def app_role() -> Iterator[tuple[str, str]]:
    """A fresh login role, and a database migrated by the admin with grants for that role."""
    role = f"orders_app_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(
        sqlalchemy_url(ADMIN_DATABASE_URL), isolation_level="AUTOCOMMIT", poolclass=pool.NullPool
    )
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE ROLE "{role}" LOGIN'))
    try:
        with throwaway_database("orders_roles") as database_url:
            subprocess.run(
                [str(BIN / "orders-migrate"), "--grant-to", role],
                env={**os.environ, "DATABASE_URL": database_url},
                check=True,
                capture_output=True,
                timeout=60,
            )
            yield role, make_url(database_url).set(username=role).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP ROLE IF EXISTS "{role}"'))
        admin.dispose()


def _run(url: str, statement: str) -> None:
    engine = sa.create_engine(sqlalchemy_url(url), poolclass=pool.NullPool)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(statement))
    finally:
        engine.dispose()


def test_services_role_reads_and_writes_rows(app_role: tuple[str, str]) -> None:
    _, url = app_role
    _run(url, "SELECT count(*) FROM orders")
    _run(url, "UPDATE pools SET synced_at = synced_at WHERE false")
    _run(url, "DELETE FROM api_keys WHERE false")


@pytest.mark.parametrize(
    "statement",
    [
        "DROP TABLE orders",
        "CREATE TABLE intruder (id int)",
        "ALTER TABLE orders ADD COLUMN x int",
        "DELETE FROM alembic_version",
    ],
)
def test_services_role_cannot_change_the_schema(app_role: tuple[str, str], statement: str) -> None:
    _, url = app_role
    with pytest.raises(ProgrammingError, match=r"permission denied|must be owner"):
        _run(url, statement)
