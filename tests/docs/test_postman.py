"""docs/postman_collection.json, run by newman (pinned in docs/newman) against the live services.

Once without a key (the open API a newcomer starts) and once with a real API key, which the collection
sends as `Authorization: Bearer`.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import pytest

from tests.client.open_stack import new_api_key
from tests.support.services import Stack

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.asyncio(loop_scope="session"),
    pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed: newman needs it"),
]

DOCS = Path(__file__).resolve().parents[2] / "docs"
NEWMAN_DIR = DOCS / "newman"
NEWMAN = NEWMAN_DIR / "node_modules" / ".bin" / "newman"


async def _run(*args: str, within: float) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    try:
        async with asyncio.timeout(within):
            out, _ = await process.communicate()
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    assert process.returncode is not None
    return process.returncode, out.decode(errors="replace")


async def _newman() -> Path:
    """newman from docs/newman, installed from its lock file when missing (`make newman-deps` does it too)."""
    if not NEWMAN.exists():
        npm = shutil.which("npm")
        assert npm, "npm is needed to install newman (docs/newman/package-lock.json)"
        code, out = await _run(
            npm, "ci", "--prefix", str(NEWMAN_DIR), "--ignore-scripts", "--no-audit", "--no-fund", within=300
        )
        assert code == 0, out
    return NEWMAN


@pytest.mark.parametrize("with_key", [False, True], ids=["open", "api-key"])
async def test_the_postman_collection_passes_against_the_live_services(
    open_api: Stack, tmp_path: Path, with_key: bool
) -> None:
    key = await new_api_key(open_api, "postman test") if with_key else ""
    report = tmp_path / "newman.json"
    code, out = await _run(
        str(await _newman()),
        "run",
        str(DOCS / "postman_collection.json"),
        "--environment",
        str(DOCS / "postman_environment.json"),
        "--env-var",
        f"baseUrl={open_api.api}",
        "--env-var",
        f"wsUrl={open_api.ws}",
        "--env-var",
        f"apiKey={key}",
        "--timeout-request",
        "10000",
        "--reporters",
        "cli,json",
        "--reporter-json-export",
        str(report),
        "--color",
        "off",
        within=120,
    )
    assert code == 0, out
    stats = json.loads(report.read_text())["run"]["stats"]
    assert stats["assertions"]["failed"] == 0
    assert stats["requests"]["failed"] == 0
    # Every request ran its tests: 18 requests (more while the order is polled), 3+ assertions each.
    assert stats["requests"]["total"] >= 18, out
    assert stats["assertions"]["total"] >= 3 * stats["requests"]["total"], out
