"""The worker's latency ranges: read from the environment as `N` or `LOW-HIGH` milliseconds."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from orders_worker.settings import MsRange, WorkerSettings


@pytest.mark.parametrize(
    ("env", "expected"),
    [("200-400", (200, 400)), ("0", (0, 0)), ("5-10", (5, 10)), (" 200 - 400 ", (200, 400))],
)
def test_latency_range_is_read_from_its_env_form(
    monkeypatch: pytest.MonkeyPatch, env: str, expected: tuple[int, int]
) -> None:
    monkeypatch.setenv("VENUE_QUOTE_LATENCY_MS", env)
    assert WorkerSettings().venue_quote_latency_ms == MsRange(low=expected[0], high=expected[1])


def test_default_latency_is_the_assignments_in_seconds() -> None:
    settings = WorkerSettings()
    assert settings.venue_quote_latency_ms.seconds() == (0.2, 0.4)
    assert settings.venue_execute_latency_ms.seconds() == (2.0, 3.0)


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ("", "expected milliseconds as 'N' or 'LOW-HIGH'"),
        ("-5", "expected milliseconds as 'N' or 'LOW-HIGH'"),
        ("200-", "expected milliseconds as 'N' or 'LOW-HIGH'"),
        ("400-200", "the high end of a range must not be below the low end"),
        ("fast", "valid integer"),
        ("200-4OO", "valid integer"),
    ],
)
def test_bad_latency_range_names_the_setting_and_the_form(
    monkeypatch: pytest.MonkeyPatch, env: str, says: str
) -> None:
    monkeypatch.setenv("VENUE_EXECUTE_LATENCY_MS", env)
    with pytest.raises(ValidationError) as raised:
        WorkerSettings()
    assert "venue_execute_latency_ms" in str(raised.value)
    assert says in str(raised.value)
