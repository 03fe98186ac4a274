"""The container tests' engine and images, once per session.

A Docker engine is used as found; when none answers, dockerd is started (Debian's docker.io, which
`make container-deps` installs as `make test` does) and stopped at the end. The tests skip only when no
engine can be started. The images are built once by `make images offline-images`, whose build cache
and images stay in the engine's data root: a second session rebuilds nothing that did not change.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.containers.support import REPORT, docker_cli, run_quiet
from tests.deploy.support import ROOT

BUILD_TIMEOUT_S = 1500
ENGINE_START_TIMEOUT_S = 60


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "containers: needs a Docker engine (started by the tests when it is installed)"
    )


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if REPORT:
        terminalreporter.section("containers")
        for line in REPORT:
            terminalreporter.write_line(line)


def _engine_answers(cli: str) -> bool:
    return run_quiet([cli, "info"], timeout=30)


@pytest.fixture(scope="session")
def engine() -> Iterator[str]:
    """A running Docker engine: the machine's, or a dockerd started here and stopped at the end."""
    cli = docker_cli()
    if _engine_answers(cli):
        yield cli
        return
    dockerd = shutil.which("dockerd")
    if dockerd is None:
        pytest.skip("no Docker engine and no dockerd to start: `make container-deps` installs docker.io")
    if os.geteuid() != 0:
        pytest.skip("no Docker engine answers, and starting dockerd needs root")
    state = Path(tempfile.mkdtemp(prefix="dockerd-"))
    log = (state / "dockerd.log").open("wb")
    process = subprocess.Popen(
        [dockerd, "--pidfile", str(state / "dockerd.pid")],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + ENGINE_START_TIMEOUT_S
        while not _engine_answers(cli):
            if process.poll() is not None or time.monotonic() > deadline:
                tail = (state / "dockerd.log").read_text(errors="replace")[-2000:]
                pytest.skip(f"dockerd could not be started here:\n{tail}")
            time.sleep(0.5)
        REPORT.append(f"dockerd started for this session (pid {process.pid}), stopped at its end")
        yield cli
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        log.close()
        shutil.rmtree(state, ignore_errors=True)


@pytest.fixture(scope="session")
def built(engine: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """Our four images and the offline third-party ones, built by the make targets a person uses."""
    log = tmp_path_factory.mktemp("build") / "build.log"
    start = time.monotonic()
    with log.open("w") as out:
        result = subprocess.run(
            ["make", "--no-print-directory", "images", "offline-images", f"DOCKER={engine}"],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=BUILD_TIMEOUT_S,
            check=False,
        )
    elapsed = time.monotonic() - start
    assert result.returncode == 0, log.read_text(errors="replace")[-6000:]
    base = next(
        (line.split("=", 1)[1] for line in log.read_text().splitlines() if line.startswith("PYTHON_IMAGE=")),
        "?",
    )
    REPORT.append(f"make images offline-images: {elapsed:.0f} s (PYTHON_IMAGE={base})")
    return base
