"""Runs the Node harnesses in ``tests/venues/sdk``: the generated cases in, the SDKs' figures out.

One Node process per venue: the cases go in as a JSON array on stdin and the SDK's figures come back as a
JSON array on stdout, in the same order. Without ``node`` or the installed SDKs the calling test is
skipped, with the command that installs them.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from orders_venues.meteora import DlmmParameters
from tests.venues.cases import (
    MeteoraSwapCase,
    RaydiumCase,
    bin_array_index_cases,
    fee_cases,
    meteora_swap_cases,
    parameters_json,
    q_price_cases,
    raydium_cases,
)

SDK_DIR = Path(__file__).parent / "sdk"
INSTALL_COMMAND = "npm ci --prefix tests/venues/sdk --ignore-scripts --no-audit --no-fund"

SdkResult = dict[str, str]


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not on PATH: the SDK differential tests need Node 20")
    if not (SDK_DIR / "node_modules").is_dir():
        pytest.skip(f"the venues' SDKs are not installed; from the repository root run: {INSTALL_COMMAND}")
    return node


def run_harness(script: str, cases: list[dict[str, Any]]) -> list[SdkResult]:
    """Quote ``cases`` with ``tests/venues/sdk/<script>`` in one Node process."""
    completed = subprocess.run(
        [_node(), str(SDK_DIR / script)],
        input=json.dumps(cases),
        capture_output=True,
        text=True,
        cwd=SDK_DIR,
        timeout=120,
        check=False,
    )
    if completed.returncode != 0:
        pytest.fail(f"{script} exited with {completed.returncode}: {completed.stderr}")
    results: list[SdkResult] = json.loads(completed.stdout)
    assert len(results) == len(cases), f"{script} answered {len(results)} of {len(cases)} cases"
    return results


def quote_raydium_cases() -> list[tuple[RaydiumCase, SdkResult]]:
    """Every generated CPMM case with ``CurveCalculator``'s answer."""
    cases = raydium_cases()
    results = run_harness("raydium.js", [case.to_json() for case in cases])
    return list(zip(cases, results, strict=True))


@dataclass(frozen=True, slots=True)
class MeteoraSdkRun:
    """The DLMM SDK's answers to every kind of generated case."""

    swaps: list[tuple[MeteoraSwapCase, SdkResult]]
    prices: list[tuple[tuple[int, int], SdkResult]]
    array_indexes: list[tuple[int, SdkResult]]
    fees: list[tuple[tuple[int, DlmmParameters, int], SdkResult]]


def quote_meteora_cases() -> MeteoraSdkRun:
    """Every generated DLMM case with the DLMM SDK's answer, from one Node process."""
    swaps = meteora_swap_cases()
    prices = q_price_cases()
    indexes = bin_array_index_cases()
    fees = fee_cases()
    payload: list[dict[str, Any]] = [case.to_json() for case in swaps]
    payload += [{"kind": "price", "binId": bin_id, "binStep": step} for bin_id, step in prices]
    payload += [{"kind": "arrayIndex", "binId": bin_id} for bin_id in indexes]
    payload += [
        {"kind": "fee", "binStep": step, "volatilityAccumulator": va, "parameters": parameters_json(p)}
        for step, p, va in fees
    ]
    results = iter(run_harness("meteora.js", payload))
    return MeteoraSdkRun(
        swaps=[(case, next(results)) for case in swaps],
        prices=[(case, next(results)) for case in prices],
        array_indexes=[(bin_id, next(results)) for bin_id in indexes],
        fees=[(case, next(results)) for case in fees],
    )
