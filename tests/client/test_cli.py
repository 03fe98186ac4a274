"""The `orders` command and `python -m demo`, run as a user runs them, against the real services."""

from __future__ import annotations

import json
import sys

import pytest

from tests.client.cli_runs import run as _run
from tests.support.services import BIN, Stack

pytestmark = [pytest.mark.e2e]


def test_submit_follow_then_get_and_list(open_api: Stack) -> None:
    submitted = _run([str(BIN / "orders"), "submit", "SOL", "USDC", "1.5", "--follow"], open_api)
    assert submitted.returncode == 0, submitted.stderr
    assert "accepted:" in submitted.stdout
    for status in ("pending", "routing", "building", "submitted", "confirmed"):
        assert status in submitted.stdout
    assert "5/5" in submitted.stdout

    listed = _run([str(BIN / "orders"), "list", "--limit", "5", "--json"], open_api)
    assert listed.returncode == 0, listed.stderr
    newest = json.loads(listed.stdout)["orders"][0]
    assert newest["orderId"] in submitted.stdout

    got = _run([str(BIN / "orders"), "get", newest["orderId"], "--json"], open_api)
    assert got.returncode == 0, got.stderr
    order = json.loads(got.stdout)
    assert order["status"] == "confirmed"
    assert [e["seq"] for e in order["events"]] == [1, 2, 3, 4, 5]


def test_quote_shows_both_venues_and_the_route(open_api: Stack) -> None:
    quoted = _run([str(BIN / "orders"), "quote", "SOL", "USDC", "1.5"], open_api)
    assert quoted.returncode == 0, quoted.stderr
    assert "raydium" in quoted.stdout
    assert "meteora" in quoted.stdout
    assert "route:" in quoted.stdout


def test_refused_input_exits_2_naming_the_field(open_api: Stack) -> None:
    refused = _run([str(BIN / "orders"), "submit", "SOL", "USDC", "-1"], open_api)
    assert refused.returncode == 2
    assert "amountIn" in refused.stderr


def test_demo_shows_five_orders_confirm_a_limit_order_fill_and_one_cancelled(open_api: Stack) -> None:
    demo = _run([sys.executable, "-m", "demo", "--api", open_api.api, "--ws", open_api.ws], open_api)
    shown = demo.stdout + demo.stderr
    assert demo.returncode == 0, shown
    assert "routing decisions" in demo.stdout, shown
    assert "5/5 confirmed" in demo.stdout, shown
    assert demo.stdout.count("confirmed") >= 8, shown
    # The limit order waited until the large buy moved the pools across its price, then filled.
    assert "limit order filled:" in demo.stdout, shown
    assert "after the buy landed" in demo.stdout, shown
    assert "limit order cancelled while open" in demo.stdout, shown
    assert "cancelled" in demo.stdout.split("limit order filled:")[0], shown  # its row on the board
