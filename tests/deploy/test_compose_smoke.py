"""The compose file is not only valid but right: its services' commands and environment, run on this
machine's Postgres and RabbitMQ by deploy/compose/smoke.py (`make compose-smoke`), take an order to
`confirmed`; and the running services expose every metric the dashboard and the alerts read."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.deploy.support import COMPOSE_DIR, ROOT, tool
from tests.deploy.test_metrics_names import (
    RABBITMQ_DETAILED,
    alert_exprs,
    dashboard_exprs,
    sample_names,
    unknown_names,
)

BIN = Path(sys.executable).parent


@pytest.mark.e2e
@pytest.mark.timeout(240)
def test_compose_services_take_an_order_to_confirmed(tmp_path: Path) -> None:
    compose = tool("docker-compose")
    for script in ("orders-api", "orders-worker", "orders-notifier", "orders-migrate"):
        if not (BIN / script).exists():
            pytest.skip(f"{script} is not installed in {BIN}")
    if shutil.which("rabbitmqctl") is None and not Path("/usr/sbin/rabbitmqctl").exists():
        pytest.skip("rabbitmqctl is not installed: the smoke needs a local RabbitMQ")
    metrics = tmp_path / "metrics.json"
    result = subprocess.run(
        [
            sys.executable,
            str(COMPOSE_DIR / "smoke.py"),
            "--compose-bin",
            str(compose),
            "--ports",
            "free",
            "--metrics-out",
            str(metrics),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=220,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr[-6000:]
    assert "confirmed" in result.stderr

    scraped = json.loads(metrics.read_text())
    assert scraped.keys() == {"api", "worker", "notifier"}
    served: set[str] = set()
    for service in scraped.values():
        served |= sample_names(service["families"]) | set(service["samples"])
    assert unknown_names(dashboard_exprs(), served | RABBITMQ_DETAILED) == {}
    assert unknown_names(alert_exprs(), served | RABBITMQ_DETAILED) == {}
