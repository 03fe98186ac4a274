"""`docker compose up` of deploy/compose/compose.yaml for real, on this machine's Docker engine, with
deploy/compose/offline.yaml standing in for the third-party images Docker Hub would give (Grafana left
out) and a port override so nothing collides with the machine's own services.

One stack per module, under a project name of its own, three workers; the tests run in file order on
it: the migration before the services, an order through the gateway's one port, orders on every worker,
every Prometheus target up, a worker killed mid-flight with every order still ending exactly once, and
`down -v` leaving nothing behind.
"""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from websockets.sync.client import connect

from tests.containers.support import REPORT, docker, inspect
from tests.deploy.support import COMPOSE_DIR, COMPOSE_FILE, tool
from tests.deploy.test_metrics_names import alert_exprs, dashboard_exprs, sample_names, unknown_names
from tests.support.services import free_port

pytestmark = [pytest.mark.containers, pytest.mark.timeout(1800)]

OFFLINE_FILE = COMPOSE_DIR / "offline.yaml"
WORKERS = 3
TERMINAL = {"confirmed", "failed"}
ORDER = {"tokenIn": "SOL", "tokenOut": "USDC", "amountIn": "0.5", "slippageBps": 100}


@dataclass
class Stack:
    """A running compose project and how to reach it."""

    project: str
    argv: list[str]
    gateway: str
    prometheus: str
    down_done: bool = False
    orders: list[str] = field(default_factory=list)

    def compose(self, *args: str, timeout: float = 600) -> None:
        result = docker_compose(self.argv, *args, timeout=timeout)
        assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]

    def containers(self, service: str, everything: bool = False) -> list[str]:
        """The service's container names, in their replica order."""
        result = docker(
            "ps",
            *(["--all"] if everything else []),
            "--filter",
            f"label=com.docker.compose.project={self.project}",
            "--filter",
            f"label=com.docker.compose.service={service}",
            "--format",
            "{{.Names}}",
        )
        return sorted(result.stdout.split())

    def psql(self, sql: str) -> list[list[str]]:
        (postgres,) = self.containers("postgres")
        out = docker("exec", postgres, "psql", "-U", "orders", "-d", "orders", "-At", "-F", "\t", "-c", sql)
        return [line.split("\t") for line in out.stdout.splitlines() if line]


def docker_compose(argv: list[str], *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*argv, *args], capture_output=True, text=True, timeout=timeout, check=False, cwd=COMPOSE_DIR
    )


def started(container: str) -> datetime:
    return _timestamp(inspect(container, "container")["State"]["StartedAt"])


def _timestamp(text: str) -> datetime:
    """Docker's RFC 3339 time with nanoseconds, to the microsecond."""
    head, _, rest = text.rstrip("Z").partition(".")
    return datetime.fromisoformat(f"{head}.{(rest + '000000')[:6]}+00:00")


def scrape(container: str, port: int) -> str:
    """A service's /metrics, read inside its container (the port is not published)."""
    code = f"import urllib.request as u; print(u.urlopen('http://127.0.0.1:{port}/metrics').read().decode())"
    return docker("exec", container, "python", "-c", code).stdout


def metric(text: str, name: str, labels: str = "") -> float:
    """The sum of a metric's samples whose labels include the given text."""
    total = 0.0
    for line in text.splitlines():
        sample, _, value = line.rpartition(" ")
        if not line.startswith("#") and sample.split("{", 1)[0] == name and labels in sample:
            total += float(value)
    return total


def submit(stack: Stack, client: httpx.Client) -> str:
    response = client.post(f"{stack.gateway}/api/orders/execute", json=ORDER)
    assert response.status_code == 202, response.text
    order_id: str = response.json()["orderId"]
    stack.orders.append(order_id)
    return order_id


def wait_terminal(stack: Stack, client: httpx.Client, order_ids: list[str], timeout: float) -> dict[str, str]:
    """Each order's status once all have reached confirmed or failed."""
    deadline = time.monotonic() + timeout
    statuses: dict[str, str] = {}
    while time.monotonic() < deadline:
        for order_id in order_ids:
            if statuses.get(order_id) not in TERMINAL:
                response = client.get(f"{stack.gateway}/api/orders/{order_id}")
                assert response.status_code == 200, response.text
                statuses[order_id] = response.json()["status"]
        if all(status in TERMINAL for status in statuses.values()):
            return statuses
        time.sleep(1)
    raise AssertionError(f"not all orders finished within {timeout} s: {statuses}")


PROJECT_PREFIX = "oe-test-"
STALE_AFTER = timedelta(hours=1)


def remove_stale_projects(compose: str) -> None:
    """Projects of an earlier run that was killed before its `down` (their containers restart with the
    engine): removed with their volumes, so runs on one machine do not pile up. Only those older than
    STALE_AFTER, so that another session's stack on the same engine is left alone."""
    listing = docker("ps", "--all", "--format", '{{.Label "com.docker.compose.project"}}\t{{.CreatedAt}}')
    now = datetime.now(UTC)
    stale: set[str] = set()
    for line in listing.stdout.splitlines():
        project, _, created = line.partition("\t")
        if project.startswith(PROJECT_PREFIX):
            born = datetime.strptime(" ".join(created.split()[:2]), "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
            if now - born > STALE_AFTER:
                stale.add(project)
    for project in sorted(stale):
        subprocess.run(
            [compose, "-p", project, "down", "--volumes", "--remove-orphans", "--timeout", "5"],
            capture_output=True,
            timeout=300,
            check=False,
        )


@pytest.fixture(scope="module")
def stack(built: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    compose = tool("docker-compose")
    gateway, prometheus, management = free_port(), free_port(), free_port()
    ports = tmp_path_factory.mktemp("compose") / "ports.yaml"
    # Host ports of this run's own: the machine's 3000, 9090 or 15672 may be taken.
    ports.write_text(
        "services:\n"
        f'  gateway:\n    ports: !override ["127.0.0.1:{gateway}:8080"]\n'
        f'  prometheus:\n    ports: !override ["127.0.0.1:{prometheus}:9090"]\n'
        f'  rabbitmq:\n    ports: !override ["127.0.0.1:{management}:15672"]\n'
    )
    remove_stale_projects(str(compose))
    project = f"{PROJECT_PREFIX}{uuid.uuid4().hex[:8]}"
    argv = [str(compose), "-p", project, "-f", str(COMPOSE_FILE), "-f", str(OFFLINE_FILE), "-f", str(ports)]
    running = Stack(project, argv, f"http://127.0.0.1:{gateway}", f"http://127.0.0.1:{prometheus}")
    start = time.monotonic()
    try:
        result = docker_compose(
            argv, "up", "--no-build", "--detach", "--wait", "--wait-timeout", "300", "--scale",
            f"worker={WORKERS}", timeout=420,
        )  # fmt: skip
        if result.returncode != 0:
            logs = docker_compose(argv, "logs", "--tail", "40", "--no-color", timeout=60)
            raise AssertionError(f"compose up failed: {result.stderr[-3000:]}\n{logs.stdout[-8000:]}")
        REPORT.append(f"compose up ({project}, {WORKERS} workers): {time.monotonic() - start:.0f} s")
        yield running
    finally:
        if not running.down_done:
            docker_compose(argv, "down", "--volumes", "--remove-orphans", "--timeout", "10", timeout=300)


def test_migrate_completes_before_the_services_start(stack: Stack) -> None:
    (migrate,) = stack.containers("migrate", everything=True)
    state = inspect(migrate, "container")["State"]
    assert state["ExitCode"] == 0
    finished = _timestamp(state["FinishedAt"])
    for service in ("api", "worker", "notifier"):
        containers = stack.containers(service)
        assert len(containers) == (WORKERS if service == "worker" else 1)
        for container in containers:
            assert started(container) > finished, f"{container} started before the migration finished"


def test_an_order_through_the_gateway_rest_and_websocket(stack: Stack) -> None:
    with httpx.Client(timeout=10) as client:
        order_id = submit(stack, client)
    ws_url = stack.gateway.replace("http://", "ws://") + f"/api/orders/ws?orderId={order_id}"
    frames: list[dict[str, Any]] = []
    with connect(ws_url, open_timeout=10, close_timeout=5) as socket:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            frame = json.loads(socket.recv(timeout=max(0.1, deadline - time.monotonic())))
            frames.append(frame)
            if frame.get("status") in TERMINAL:
                break
    assert frames[0]["status"] == "ws_connected"
    events = frames[1:]
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert [e["status"] for e in events] == ["pending", "routing", "building", "submitted", "confirmed"]
    assert events[-1]["orderId"] == order_id


def test_orders_land_on_all_three_workers(stack: Stack) -> None:
    with httpx.Client(timeout=10) as client:
        # One at a time: each is its own message, and RabbitMQ hands messages to its consumers in turn.
        order_ids = [submit(stack, client) for _ in range(4 * WORKERS)]
        statuses = wait_terminal(stack, client, order_ids, timeout=120)
    assert set(statuses.values()) == {"confirmed"}
    confirmed = {
        worker: metric(scrape(worker, 8002), "order_transitions_total", 'status="confirmed"')
        for worker in stack.containers("worker")
    }
    REPORT.append("orders confirmed per worker: " + ", ".join(f"{w} {n:.0f}" for w, n in confirmed.items()))
    assert len(confirmed) == WORKERS
    assert all(count > 0 for count in confirmed.values()), confirmed


def test_prometheus_reports_every_target_up(stack: Stack) -> None:
    expected = {
        "order-engine-api": 1,
        "order-engine-notifier": 1,
        "order-engine-worker": WORKERS,
        "rabbitmq": 1,
    }
    deadline = time.monotonic() + 150  # DNS discovery refreshes every 30 s, scrapes every 15 s
    seen: dict[str, list[str]] = {}
    while time.monotonic() < deadline:
        targets = httpx.get(f"{stack.prometheus}/api/v1/targets", timeout=5).json()["data"]["activeTargets"]
        seen = {}
        for target in targets:
            seen.setdefault(target["labels"]["job"], []).append(target["health"])
        if {job: len(h) for job, h in seen.items()} == expected and all(
            h == "up" for healths in seen.values() for h in healths
        ):
            break
        time.sleep(2)
    assert seen.keys() == expected.keys(), seen
    assert {job: healths.count("up") for job, healths in seen.items()} == expected, seen

    # Every metric the dashboard and the alerts read is served: the services' own /metrics, and
    # RabbitMQ's detailed endpoint as Prometheus scraped it.
    served: set[str] = set()
    for service, port in (("api", 8000), ("notifier", 8001), ("worker", 8002)):
        text = scrape(stack.containers(service)[0], port)
        families = {
            line.split(" ")[2]: line.split(" ")[3] for line in text.splitlines() if line.startswith("# TYPE ")
        }
        served |= sample_names(families)
        served |= {
            line.split("{", 1)[0].split(" ", 1)[0] for line in text.splitlines() if line[:1] not in "#"
        }
    rabbitmq = httpx.get(
        f"{stack.prometheus}/api/v1/label/__name__/values", params={"match[]": '{job="rabbitmq"}'}, timeout=5
    ).json()["data"]
    assert "rabbitmq_detailed_queue_messages_ready" in rabbitmq
    served |= set(rabbitmq)
    assert unknown_names(dashboard_exprs(), served) == {}
    assert unknown_names(alert_exprs(), served) == {}


def test_a_worker_killed_mid_flight_leaves_every_order_ended_exactly_once(stack: Stack) -> None:
    victim = stack.containers("worker")[0]
    with httpx.Client(timeout=10) as client:
        order_ids = [submit(stack, client) for _ in range(5 * WORKERS)]
        deadline = time.monotonic() + 30
        while metric(scrape(victim, 8002), "worker_in_flight") < 1:
            assert time.monotonic() < deadline, f"{victim} never held an order"
            time.sleep(0.2)
        held = metric(scrape(victim, 8002), "worker_in_flight")
        docker("kill", "--signal", "KILL", victim)
        statuses = wait_terminal(stack, client, order_ids, timeout=180)
    REPORT.append(
        f"killed {victim} holding {held:.0f} orders; all {len(order_ids)} ended: {set(statuses.values())}"
    )
    assert set(statuses.values()) == {"confirmed"}, statuses

    every = ",".join(f"'{order_id}'" for order_id in stack.orders)
    rows = stack.psql(
        "SELECT o.id, o.status, count(e.*) FILTER (WHERE e.status IN ('confirmed', 'failed')),"
        " count(e.*), max(e.seq), (SELECT count(*) FROM executions x WHERE x.order_id = o.id)"
        f" FROM orders o JOIN order_events e ON e.order_id = o.id WHERE o.id IN ({every}) GROUP BY o.id"
    )
    assert len(rows) == len(stack.orders)
    for order_id, status, terminal_events, events, max_seq, executions in rows:
        assert terminal_events == "1", f"{order_id} has {terminal_events} terminal events"
        assert events == max_seq, f"{order_id}: {events} events, seq up to {max_seq}"
        assert executions == ("1" if status == "confirmed" else "0"), f"{order_id}: {executions} executions"


def test_down_removes_every_container_network_and_volume(stack: Stack) -> None:
    stack.compose("down", "--volumes", "--remove-orphans", "--timeout", "30")
    stack.down_done = True
    label = f"label=com.docker.compose.project={stack.project}"
    assert docker("ps", "--all", "--quiet", "--filter", label).stdout.strip() == ""
    assert docker("network", "ls", "--quiet", "--filter", label).stdout.strip() == ""
    assert docker("volume", "ls", "--quiet", "--filter", label).stdout.strip() == ""
    assert stack.project not in docker("volume", "ls", "--format", "{{.Name}}").stdout
