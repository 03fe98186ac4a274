"""The transition table: the only place that says which status may follow which."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orders_shared.errors import IllegalTransition
from orders_shared.status import TERMINAL, TRANSITIONS, Status, ensure_legal, is_legal

HAPPY_PATH = [Status.PENDING, Status.ROUTING, Status.BUILDING, Status.SUBMITTED, Status.CONFIRMED]


def test_happy_path_is_legal_step_by_step() -> None:
    for current, new in itertools.pairwise(HAPPY_PATH):
        ensure_legal(current, new)


def test_every_non_terminal_status_can_fail() -> None:
    for status in Status:
        assert is_legal(status, Status.FAILED) == (status not in TERMINAL)


def test_terminal_statuses_are_final() -> None:
    assert {Status.CONFIRMED, Status.FAILED} == TERMINAL
    for status in Status:
        assert not is_legal(Status.CONFIRMED, status)
        assert not is_legal(Status.FAILED, status)


def test_submitted_never_goes_back_to_routing() -> None:
    # A sent swap is looked up, never built again: going back would risk a second trade.
    with pytest.raises(IllegalTransition):
        ensure_legal(Status.SUBMITTED, Status.ROUTING)


def test_nothing_skips_to_confirmed() -> None:
    for status in (Status.PENDING, Status.ROUTING, Status.BUILDING):
        assert not is_legal(status, Status.CONFIRMED)


def test_table_covers_every_status() -> None:
    assert set(TRANSITIONS) == set(Status)


@given(st.lists(st.integers(min_value=0, max_value=10), max_size=30))
def test_random_walk_stays_in_table_and_ends_only_at_terminal(choices: list[int]) -> None:
    status = Status.PENDING
    for choice in choices:
        options = sorted(TRANSITIONS[status])
        if not options:
            assert status in TERMINAL
            break
        new = options[choice % len(options)]
        ensure_legal(status, new)
        status = new
