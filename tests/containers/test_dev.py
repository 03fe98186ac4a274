"""`make dev` on a machine where nothing answers at DATABASE_URL and AMQP_URL (free ports here): it starts
Postgres and RabbitMQ from compose.yaml's own services in Docker, says so in one line, migrates, runs the
three services, and an order is confirmed; `make dev-down WIPE=1` leaves no container or volume behind.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from pathlib import Path

import httpx
import pytest

from tests.containers.support import REPORT, docker
from tests.deploy.support import ROOT
from tests.support.services import free_port

pytestmark = [pytest.mark.containers, pytest.mark.timeout(900)]

ORDER = {"tokenIn": "SOL", "tokenOut": "USDC", "amountIn": "0.5"}


def wait_for(path: Path, text: str, process: subprocess.Popen[bytes], timeout: float) -> None:
    """Until ``text`` is in the log (failing at once if make dev ended)."""
    deadline = time.monotonic() + timeout
    while text not in path.read_text(errors="replace"):
        assert process.poll() is None, f"make dev ended {process.returncode}:\n{path.read_text()[-6000:]}"
        assert time.monotonic() < deadline, f"no {text!r} within {timeout} s:\n{path.read_text()[-6000:]}"
        time.sleep(0.2)


def project_objects(project: str) -> list[str]:
    label = f"label=com.docker.compose.project={project}"
    containers = docker("ps", "--all", "--filter", label, "--format", "{{.Names}}").stdout.split()
    volumes = docker("volume", "ls", "--filter", label, "--format", "{{.Name}}").stdout.split()
    return containers + volumes


def test_make_dev_starts_postgres_and_rabbitmq_in_docker_and_serves_an_order(
    built: str, engine: str, tmp_path: Path
) -> None:
    project = f"oe-test-dev-{uuid.uuid4().hex[:8]}"
    api, notifier, worker = free_port(), free_port(), free_port()
    env = {
        **os.environ,
        "DOCKER": engine,
        "DEV_PROJECT": project,
        "DATABASE_URL": f"postgresql://postgres@127.0.0.1:{free_port()}/orders",
        "AMQP_URL": f"amqp://guest:guest@127.0.0.1:{free_port()}/%2F",
        "API_PORT": str(api),
        "NOTIFIER_PORT": str(notifier),
        "WORKER_PORT": str(worker),
        "VENUE_QUOTE_LATENCY_MS": "5-20",
        "VENUE_EXECUTE_LATENCY_MS": "20-60",
    }
    log = tmp_path / "make-dev.log"
    start = time.monotonic()
    with log.open("wb") as out:
        make = subprocess.Popen(
            ["make", "--no-print-directory", "dev"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_for(log, "in Docker (compose project", make, timeout=300)
        started = next(line for line in log.read_text().splitlines() if "in Docker (compose project" in line)
        assert "Postgres on 127.0.0.1:" in started, started
        assert "RabbitMQ on 127.0.0.1:" in started, started
        wait_for(log, f"Uvicorn running on http://0.0.0.0:{api}", make, timeout=120)
        REPORT.append(f"make dev, Postgres and RabbitMQ started in Docker: {time.monotonic() - start:.0f} s")
        with httpx.Client(base_url=f"http://127.0.0.1:{api}", timeout=10) as client:
            deadline = time.monotonic() + 60
            while client.get("/readyz").status_code != 200:
                assert time.monotonic() < deadline
                time.sleep(0.2)
            for port in (notifier, worker):
                assert httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5).status_code == 200
            response = client.post("/api/orders/execute", json=ORDER)
            assert response.status_code == 202, response.text
            order_id = response.json()["orderId"]
            status = ""
            while status != "confirmed":
                assert time.monotonic() < deadline, status
                status = client.get(f"/api/orders/{order_id}").json()["status"]
                assert status != "failed"
                time.sleep(0.2)
        assert "Traceback" not in log.read_text(errors="replace")
    finally:
        if make.poll() is None:
            os.killpg(make.pid, signal.SIGTERM)
            try:
                make.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(make.pid, signal.SIGKILL)
                make.wait(timeout=10)
        down = subprocess.run(
            [
                "make",
                "--no-print-directory",
                "dev-down",
                "WIPE=1",
                f"DEV_PROJECT={project}",
                f"DOCKER={engine}",
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    assert down.returncode == 0, down.stdout + down.stderr
    assert project_objects(project) == []
