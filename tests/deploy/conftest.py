"""Fixtures of the deploy tests: the chart rendered once per values set, and the compose file as the real
compose implementation reads it."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

from tests.deploy.support import ALL_FEATURES, COMPOSE_FILE, TOOLS, Rendered, render, run, tool


@pytest.fixture(scope="session")
def rendered_default() -> Rendered:
    """The chart with its default values."""
    return render()


@pytest.fixture(scope="session")
def rendered_all() -> Rendered:
    """The chart with every optional feature on."""
    return render("-f", str(ALL_FEATURES))


@pytest.fixture(scope="session", params=["default", "all-features"])
def rendered(request: pytest.FixtureRequest, rendered_default: Rendered, rendered_all: Rendered) -> Rendered:
    """Each of the two renderings in turn."""
    return rendered_default if request.param == "default" else rendered_all


@pytest.fixture(scope="session")
def compose_config() -> dict[str, Any]:
    """compose.yaml resolved by the real compose implementation (merges, interpolation, defaults), with
    a clean environment so the developer's shell cannot change it."""
    compose = tool("docker-compose")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(TOOLS)}
    result = run([compose, "-f", COMPOSE_FILE, "config", "--format", "json"], env=env)
    assert result.returncode == 0, result.stderr
    config: dict[str, Any] = json.loads(result.stdout)
    return config
