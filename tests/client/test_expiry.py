"""`--expires` and the client's expiresAt: durations from now, RFC 3339 times, and what is refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from orders_client import parse_expiry
from orders_client._expiry import rfc3339

NOW = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "after"),
    [
        ("30s", timedelta(seconds=30)),
        ("10m", timedelta(minutes=10)),
        ("2h", timedelta(hours=2)),
        ("1d", timedelta(days=1)),
        (" 45m ", timedelta(minutes=45)),
    ],
)
def test_a_duration_counts_from_now(text: str, after: timedelta) -> None:
    assert parse_expiry(text, now=NOW) == NOW + after


def test_an_rfc3339_time_is_taken_as_given_in_utc() -> None:
    assert parse_expiry("2026-12-01T12:00:00Z") == datetime(2026, 12, 1, 12, tzinfo=UTC)
    assert parse_expiry("2026-12-01T13:30:00+01:30") == datetime(2026, 12, 1, 12, tzinfo=UTC)
    assert parse_expiry("2026-12-01T12:00:00Z").tzinfo is UTC


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("10x", "expected a duration"),
        ("10", "expected a duration"),
        ("m", "expected a duration"),
        ("-5m", "expected a duration"),
        ("0s", "more than zero"),
        ("2026-12-01T12:00:00", "needs its zone"),
    ],
)
def test_anything_else_is_refused_saying_what_was_expected(text: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        parse_expiry(text, now=NOW)


def test_the_wire_form_is_utc_with_z_and_a_naive_time_is_refused() -> None:
    paris = timezone(timedelta(hours=1))
    assert rfc3339(datetime(2026, 12, 1, 13, 0, 5, tzinfo=paris)) == "2026-12-01T12:00:05Z"
    with pytest.raises(ValueError, match="time zone"):
        rfc3339(datetime(2026, 12, 1, 12))  # noqa: DTZ001
