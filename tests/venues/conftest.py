"""Session fixtures: the generated cases quoted once by each venue's own SDK, in one Node process each."""

from __future__ import annotations

import pytest

from tests.venues.cases import RaydiumCase
from tests.venues.harness import MeteoraSdkRun, SdkResult, quote_meteora_cases, quote_raydium_cases


@pytest.fixture(scope="session")
def raydium_sdk() -> list[tuple[RaydiumCase, SdkResult]]:
    """Every generated CPMM case with ``CurveCalculator``'s answer."""
    return quote_raydium_cases()


@pytest.fixture(scope="session")
def meteora_sdk() -> MeteoraSdkRun:
    """Every generated DLMM case with the DLMM SDK's answers."""
    return quote_meteora_cases()
