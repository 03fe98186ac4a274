"""How waiting orders look in a terminal: `open` is not an end, a step may come twice, and a limit order
that missed its price and waits `open` again says so, with the price it missed."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from typing import Any

from rich.console import Console

from orders_client import TERMINAL, OrderEvent
from orders_client import display as show

START = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
ORDER = "5b0e6f0c-0000-4000-8000-000000000000"


def _events(*steps: tuple[str, dict[str, Any]]) -> list[OrderEvent]:
    return [
        OrderEvent.from_json(
            {"orderId": ORDER, "seq": n, "status": status, "at": (START + timedelta(seconds=n)).isoformat(),
             "attempt": 1, **detail}
        )
        for n, (status, detail) in enumerate(steps, 1)
    ]  # fmt: skip


def _text(events: list[OrderEvent]) -> str:
    console = Console(width=160, no_color=True, record=True, file=io.StringIO())
    console.print(show.timeline(events))
    return console.export_text()


FIRED: list[tuple[str, dict[str, Any]]] = [
    ("pending", {}),
    ("open", {}),
    ("routing", {}),
    ("routing", {}),
    ("building", {}),
    ("submitted", {}),
]
MISSED = ("open", {"missedPrice": "151.93", "limitPrice": "152"})


def test_the_ends_are_confirmed_failed_cancelled_expired_and_open_is_not_one() -> None:
    assert {"confirmed", "failed", "cancelled", "expired"} == TERMINAL
    assert not _events(("open", {}))[0].terminal
    assert _events(("cancelled", {}))[0].terminal
    assert _events(("expired", {}))[0].terminal


def test_a_waiting_order_shows_open_then_the_steps_to_come() -> None:
    text = _text(_events(("pending", {}), ("open", {})))
    assert "waiting for its trigger" in text
    assert [line.split()[1] for line in text.splitlines() if line.lstrip().startswith("·")] == [
        "routing", "building", "submitted", "confirmed"
    ]  # fmt: skip


def test_a_missed_price_goes_back_to_open_and_says_what_it_missed() -> None:
    events = _events(*FIRED, MISSED)
    assert events[-1].missed
    assert not events[-1].terminal
    lines = _text(events).splitlines()
    # Every event has its row, in order: routing twice, then open again, marked and explained.
    assert [line.split()[1] for line in lines[:7]] == [s for s, _ in FIRED] + ["open"]
    assert lines[6].split()[0] == show.MISSED_MARK
    assert "missed its price: the swap would pay 151.93, limit 152; waiting again" in lines[6]
    assert "fired" in lines[2]
    # It waits again: routing … confirmed are still to come.
    assert [line.split()[1] for line in lines[7:] if line.strip()] == [
        "routing", "building", "submitted", "confirmed"
    ]  # fmt: skip


def test_a_cancelled_or_expired_order_has_no_steps_to_come() -> None:
    for end in ("cancelled", "expired"):
        events = _events(("pending", {}), ("open", {}), (end, {}))
        assert show.steps_to_come(events) == []
        assert f"{end} before it fired" in _text(events)
    refired = _events(*FIRED, MISSED, ("routing", {}), ("routing", {}), ("building", {}), ("submitted", {}),
                      ("confirmed", {"amountOut": "76", "executedPrice": "152"}))  # fmt: skip
    assert show.steps_to_come(refired) == []
    assert "out 76 at 152" in _text(refired)
