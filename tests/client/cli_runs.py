"""Running the `orders` command as a user runs it: a subprocess against the real services."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from tests.support.services import BIN, Stack

ROOT = Path(__file__).resolve().parents[2]


def run(args: list[str], stack: Stack, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """``args`` run with the stack's URLs in the environment, no API key, no colour, 160 columns."""
    env = {
        **os.environ,
        "ORDERS_API_URL": stack.api,
        "ORDERS_WS_URL": stack.ws,
        "COLUMNS": "160",
        "NO_COLOR": "1",
    }
    env.pop("ORDERS_API_KEY", None)
    return subprocess.run(args, env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def orders(*args: str, stack: Stack, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """``orders ARGS…``."""
    return run([str(BIN / "orders"), *args], stack, timeout)


def orders_json(*args: str, stack: Stack) -> Any:
    """``orders ARGS… --json``, which must exit 0; its one JSON line."""
    done = orders(*args, "--json", stack=stack)
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout.splitlines()[0])
