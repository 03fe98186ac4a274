"""The schema is declared once and every statement agrees with it.

The SQLModel tables are what Alembic reads: after every migration, the database must be exactly them.
The services' SQL is text, which no type checker reads; so every statement of every repository module is
planned here by Postgres (EXPLAIN, nothing runs) against the migrated schema, and no SQL may hide in
another module.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
import re
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import psycopg
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import pool

from orders_shared.db import Database
from orders_shared.migrate import sqlalchemy_url
from orders_shared.models import metadata

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("orders_shared", "orders_api", "orders_worker", "orders_notifier")
_SQL = re.compile(r"^\s*(SELECT|INSERT|UPDATE|DELETE|WITH)\s", re.IGNORECASE)
_PARAM = re.compile(r"%\((\w+)\)s")
_SLOT = re.compile(r"\{\w+\}")
# Where SQL text may live: the repository modules; the connection's readiness query; migrations.
_ALLOWED = re.compile(r"(^|\.)repository$|^orders_shared\.db$|^orders_shared\.migrat")


def _modules() -> Iterator[ModuleType]:
    for name in PACKAGES:
        package = importlib.import_module(name)
        yield package
        for info in pkgutil.walk_packages(package.__path__, prefix=f"{name}."):
            # Alembic runs the migrations' env itself; a service's __main__ starts it.
            if not info.name.endswith("__main__") and ".migrations" not in info.name:
                yield importlib.import_module(info.name)


def _statements(module: ModuleType) -> dict[str, str]:
    """The module's SQL constants by name (templates with `{…}` slots are checked as the statements made
    from them)."""
    return {
        name: value
        for name, value in vars(module).items()
        if isinstance(value, str) and _SQL.match(value) and not _SLOT.search(value)
    }


def _sql_literals(module: ModuleType) -> list[int]:
    """Lines of the module's source where a string literal is SQL."""
    source = Path(module.__file__ or "").read_text()
    return [
        node.lineno
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and _SQL.match(node.value)
    ]


REPOSITORIES = [m for m in _modules() if m.__name__.endswith("repository")]


def test_the_migrated_database_is_the_declared_schema(database_url: str) -> None:
    engine = sa.create_engine(sqlalchemy_url(database_url), poolclass=pool.NullPool)
    try:
        with engine.connect() as conn:
            differences = compare_metadata(MigrationContext.configure(conn), metadata)
    finally:
        engine.dispose()
    assert differences == [], f"the migrations and orders_shared.models disagree: {differences}"


def test_sql_lives_only_in_repository_modules() -> None:
    elsewhere = {
        module.__name__: lines
        for module in _modules()
        if not _ALLOWED.search(module.__name__) and (lines := _sql_literals(module))
    }
    assert elsewhere == {}, f"SQL outside a repository module (module: lines): {elsewhere}"


def test_every_service_has_its_statements_in_a_repository() -> None:
    assert {m.__name__ for m in REPOSITORIES} >= {"orders_shared.repository", "orders_api.repository"}
    assert all(_statements(m) for m in REPOSITORIES)


@pytest.mark.parametrize("module", REPOSITORIES, ids=lambda m: m.__name__)
async def test_postgres_plans_every_statement(db: Database, module: ModuleType) -> None:
    async with db.connection() as conn:
        for name, sql in _statements(module).items():
            params = dict.fromkeys(_PARAM.findall(sql))
            try:
                await conn.execute(f"EXPLAIN {sql}", params)
            except psycopg.Error as exc:
                pytest.fail(f"{module.__name__}.{name} does not plan against the schema: {exc}")
