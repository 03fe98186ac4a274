"""The services', shared package's and venues' code keeps its shape: no function longer than MAX_LINES, and
every `type: ignore` names its code."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("services/api/src", "services/worker/src", "services/notifier/src", "shared/src", "venues/src")
MAX_LINES = 60


def _modules() -> list[Path]:
    return sorted(path for source in SOURCES for path in (ROOT / source).rglob("*.py"))


def test_no_function_is_longer_than_sixty_lines() -> None:
    long: list[str] = []
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_LINES:
                    long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({length} lines)")
    assert not long, long


def test_every_type_ignore_names_its_code() -> None:
    bare = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in _modules()
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(r"type:\s*ignore(?!\[)", line)
    ]
    assert not bare, bare
