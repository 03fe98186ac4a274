"""The worker's settings: the common ones and its own, read from the environment."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field

from orders_shared.settings import CommonSettings

_RANGE = re.compile(r"^\s*(\d+)\s*(?:-\s*(\d+))?\s*$")


def _check_range(value: str) -> str:
    match = _RANGE.match(value)
    if match is None:
        raise ValueError("expected milliseconds as 'N' or 'LOW-HIGH', e.g. '200-400'")
    low, high = int(match[1]), int(match[2] or match[1])
    if high < low:
        raise ValueError("the high end of a range must not be below the low end")
    return f"{low}-{high}"


LatencyRange = Annotated[str, AfterValidator(_check_range)]


def parse_range_ms(value: str) -> tuple[float, float]:
    """Turn a validated 'LOW-HIGH' millisecond range into seconds."""
    low, _, high = value.partition("-")
    return int(low) / 1000, int(high or low) / 1000


class WorkerSettings(CommonSettings):
    """The worker service."""

    worker_host: str = Field(
        default="0.0.0.0", description="Interface of the worker's health/metrics server."
    )
    worker_port: int = Field(
        default=8002, ge=1, le=65535, description="Port of the worker's health and metrics."
    )
    worker_concurrency: int = Field(default=10, ge=1, le=1000, description="Orders one worker holds at once.")
    venue_quote_latency_ms: LatencyRange = Field(
        default="200-400", description="Simulated quote latency range."
    )
    venue_execute_latency_ms: LatencyRange = Field(
        default="2000-3000", description="Simulated swap execution latency range."
    )
    venue_quote_timeout_ms: int = Field(
        default=1500, ge=1, description="A venue slower than this to quote is left out."
    )
    venue_failure_rate: float = Field(
        default=0.0, ge=0, le=1, description="Share of venue calls that fail (fault injection)."
    )
    max_attempts: int = Field(default=3, ge=1, le=3, description="Attempts per order before it fails.")

    def quote_latency_s(self) -> tuple[float, float]:
        """Quote latency range in seconds."""
        return parse_range_ms(self.venue_quote_latency_ms)

    def execute_latency_s(self) -> tuple[float, float]:
        """Execution latency range in seconds."""
        return parse_range_ms(self.venue_execute_latency_ms)
