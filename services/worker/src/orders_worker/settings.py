"""The worker's settings: the common ones and its own, read from the environment."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema, model_validator
from pydantic_settings import NoDecode

from orders_shared.settings import CommonSettings


class MsRange(BaseModel):
    """A range of milliseconds, written `N` or `LOW-HIGH` (e.g. `200-400`) in the environment."""

    model_config = ConfigDict(frozen=True)

    low: int = Field(ge=0)
    high: int = Field(ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> MsRange:
        if self.high < self.low:
            raise ValueError("the high end of a range must not be below the low end")
        return self

    def seconds(self) -> tuple[float, float]:
        """The range in seconds."""
        return self.low / 1000, self.high / 1000


def _split(value: object) -> object:
    """`LOW-HIGH` (or `N`, for `N-N`) as the range's fields; pydantic checks that each is an integer."""
    if not isinstance(value, str):
        return value
    low, dash, high = value.partition("-")
    if not low.strip() or (dash and not high.strip()):
        raise ValueError("expected milliseconds as 'N' or 'LOW-HIGH', e.g. '200-400'")
    return {"low": low.strip(), "high": (high if dash else low).strip()}


# Read from the environment as the text it is (NoDecode: not as JSON), and a string in the JSON schema that
# the Helm chart's values are checked against.
LatencyRange = Annotated[MsRange, NoDecode, BeforeValidator(_split), WithJsonSchema({"type": "string"})]


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
        default="200-400", validate_default=True, description="Simulated quote latency range."
    )
    venue_execute_latency_ms: LatencyRange = Field(
        default="2000-3000", validate_default=True, description="Simulated swap execution latency range."
    )
    venue_quote_timeout_ms: int = Field(
        default=1500, ge=1, description="A venue slower than this to quote is left out."
    )
    venue_failure_rate: float = Field(
        default=0.0, ge=0, le=1, description="Share of venue calls that fail (fault injection)."
    )
    max_attempts: int = Field(default=3, ge=1, le=3, description="Attempts per order before it fails.")
    market_launches_per_hour: int = Field(
        default=0,
        ge=0,
        le=60,
        description="Seeded random token launches per hour (every worker computes the same ones); 0: none.",
    )
