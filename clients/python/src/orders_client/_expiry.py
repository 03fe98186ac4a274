"""When a waiting order expires, as people write it: a duration (30s, 10m, 2h, 1d) or an RFC 3339 time."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

_DURATION = re.compile(r"(\d+)\s*([smhd])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_expiry(text: str, *, now: datetime | None = None) -> datetime:
    """``30s``, ``10m``, ``2h``, ``1d`` from ``now`` (default: the current time), or an RFC 3339 time with
    its zone (``2026-12-01T12:00:00Z``); the result is in UTC. ValueError says what was expected."""
    value = text.strip()
    duration = _DURATION.fullmatch(value)
    if duration is not None:
        count, unit = duration.groups()
        if int(count) == 0:
            raise ValueError(f"{text!r}: a duration must be more than zero")
        start = now if now is not None else datetime.now(UTC).replace(microsecond=0)
        return (start + timedelta(**{_UNITS[unit]: int(count)})).astimezone(UTC)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(
            f"{text!r}: expected a duration (30s, 10m, 2h, 1d) or an RFC 3339 time (2026-12-01T12:00:00Z)"
        ) from None
    if moment.tzinfo is None:
        raise ValueError(f"{text!r}: an RFC 3339 time needs its zone (Z or +01:00)")
    return moment.astimezone(UTC)


def rfc3339(moment: datetime) -> str:
    """``moment`` in UTC as RFC 3339 (``2026-12-01T12:00:00Z``); a naive datetime is refused."""
    if moment.tzinfo is None:
        raise ValueError("expiresAt needs a time zone: pass an aware datetime")
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
