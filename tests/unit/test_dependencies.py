"""Every workspace member declares what it imports: no package reached only through another's dependencies."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MEMBERS = {
    "shared": "orders_shared",
    "venues": "orders_venues",
    "services/api": "orders_api",
    "services/worker": "orders_worker",
    "services/notifier": "orders_notifier",
    "clients/python": "orders_client",
}


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared(member: str) -> set[str]:
    """The distributions the member's pyproject names; an extra such as psycopg[pool] names psycopg-pool."""
    project = tomllib.loads((ROOT / member / "pyproject.toml").read_text())["project"]
    names: set[str] = set()
    for spec in project.get("dependencies", []):
        match = re.match(r"\s*([\w.-]+)\s*(?:\[([^\]]*)\])?", spec)
        assert match is not None, spec
        name = _normal(match[1])
        names.add(name)
        names.update(f"{name}-{_normal(extra)}" for extra in (match[2] or "").split(",") if extra.strip())
    return names


def _imported(package_dir: Path) -> set[str]:
    """The top-level modules the package's source imports (relative imports aside)."""
    found: set[str] = set()
    for path in package_dir.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("member", sorted(MEMBERS))
def test_every_import_is_declared(member: str) -> None:
    package = MEMBERS[member]
    distributions = packages_distributions()
    declared = _declared(member)
    undeclared = {
        module: sorted(_normal(d) for d in distributions.get(module, [module]))
        for module in _imported(ROOT / member / "src" / package)
        if module not in sys.stdlib_module_names
        and module != "__future__"
        and module != package
        and not declared & {_normal(d) for d in distributions.get(module, [module])}
    }
    assert undeclared == {}, f"{member}/pyproject.toml does not declare (module: distributions): {undeclared}"
