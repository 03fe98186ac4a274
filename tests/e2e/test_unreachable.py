"""A Postgres or RabbitMQ that cannot be used: one clear message, no traceback, a bounded wait.

`orders-migrate` and each service run as processes against real failures: a port nothing listens on,
one that accepts and never answers, a login RabbitMQ refuses, a role Postgres does not know, a
database and a vhost that do not exist. The services wait STARTUP_TIMEOUT_S, logging each attempt and
not serving meanwhile, and start once the broker appears.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.services import BIN, PORT_VAR, free_port

pytestmark = pytest.mark.e2e

SERVICES = ("api", "worker", "notifier")
# What a process may take beyond its STARTUP_TIMEOUT_S: interpreter start, the last attempt, exit.
SLACK_S = 12.0


def run(argv: list[str], env: dict[str, str], timeout: float) -> tuple[int, str, float]:
    """Exit status, stdout+stderr and seconds taken."""
    start = time.monotonic()
    result = subprocess.run(
        argv, env={**os.environ, **env}, capture_output=True, text=True, timeout=timeout, check=False
    )
    return result.returncode, result.stdout + result.stderr, time.monotonic() - start


def closed_postgres(password: str = "s3cret") -> str:
    return f"postgresql://postgres:{password}@127.0.0.1:{free_port()}/orders"


def closed_rabbitmq() -> str:
    return f"amqp://guest:s3cret@127.0.0.1:{free_port()}/%2F"


def assert_clean(output: str) -> None:
    assert "Traceback" not in output, output
    assert "s3cret" not in output, output


def service_env(name: str, database_url: str, amqp_url: str, timeout_s: float) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,
        "AMQP_URL": amqp_url,
        "STARTUP_TIMEOUT_S": str(timeout_s),
        "LOG_FORMAT": "json",
        PORT_VAR[name]: str(free_port()),
    }


# --- orders-migrate -----------------------------------------------------------------------------------


def test_migrate_on_a_closed_port_names_the_setting_hides_the_password_and_says_what_to_do() -> None:
    url = closed_postgres()
    code, output, took = run(
        [str(BIN / "orders-migrate")], {"DATABASE_URL": url, "STARTUP_TIMEOUT_S": "0"}, 30
    )
    assert code != 0
    assert_clean(output)
    assert "cannot use Postgres: connection refused" in output
    assert f"DATABASE_URL={url.replace('s3cret', '***')}" in output
    assert "make dev" in output
    assert "sudo apt-get install -y postgresql" in output
    assert "brew install postgresql" in output
    assert took < SLACK_S


def test_migrate_waits_its_startup_timeout_then_gives_up() -> None:
    code, output, took = run(
        [str(BIN / "orders-migrate")], {"DATABASE_URL": closed_postgres(), "STARTUP_TIMEOUT_S": "3"}, 60
    )
    assert code != 0
    assert_clean(output)
    assert output.count("dependency_waiting") >= 2
    assert re.search(r"\d+ times over [23] s: connection refused", output), output
    assert 2 < took < 3 + SLACK_S


def test_migrate_names_an_unknown_database() -> None:
    url = "postgresql://postgres@127.0.0.1:5432/orders_no_such_database"
    code, output, _ = run([str(BIN / "orders-migrate")], {"DATABASE_URL": url, "STARTUP_TIMEOUT_S": "30"}, 30)
    assert code != 0
    assert_clean(output)
    assert "cannot use Postgres: unknown database" in output
    assert "'orders_no_such_database'" in output
    assert "dependency_waiting" not in output  # a lasting failure: no wait


def test_migrate_says_authentication_failed_for_a_role_postgres_does_not_know() -> None:
    url = "postgresql://no_such_role_here:s3cret@127.0.0.1:5432/postgres"
    code, output, took = run(
        [str(BIN / "orders-migrate")], {"DATABASE_URL": url, "STARTUP_TIMEOUT_S": "30"}, 30
    )
    assert code != 0
    assert_clean(output)
    assert "cannot use Postgres: authentication failed" in output
    assert "check the user (no_such_role_here) and the password in DATABASE_URL" in output
    assert took < SLACK_S


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never answers."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        yield server.getsockname()[1]


def test_migrate_says_timeout_for_a_server_that_never_answers(silent_port: int) -> None:
    url = f"postgresql://postgres@127.0.0.1:{silent_port}/orders"
    code, output, took = run(
        [str(BIN / "orders-migrate")], {"DATABASE_URL": url, "STARTUP_TIMEOUT_S": "0"}, 30
    )
    assert code != 0
    assert_clean(output)
    assert "cannot use Postgres: timeout" in output
    assert took < SLACK_S


# --- the services -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", SERVICES)
def test_a_service_with_postgres_away_exits_within_its_bound_with_the_message(name: str) -> None:
    env = service_env(name, closed_postgres(), closed_rabbitmq(), timeout_s=2)
    code, output, took = run([str(BIN / f"orders-{name}")], env, 60)
    assert code != 0
    assert_clean(output)
    assert "dependency_waiting" in output
    assert '"event":"dependency_unreachable"' in output
    assert "cannot use Postgres: connection refused" in output
    assert "DATABASE_URL=postgresql://postgres:***@127.0.0.1:" in output
    assert took < 2 + SLACK_S


@pytest.mark.parametrize("name", SERVICES)
def test_a_service_with_rabbitmq_away_exits_within_its_bound_with_the_message(
    name: str, database_url: str
) -> None:
    env = service_env(name, database_url, closed_rabbitmq(), timeout_s=2)
    code, output, took = run([str(BIN / f"orders-{name}")], env, 60)
    assert code != 0
    assert_clean(output)
    assert "cannot use RabbitMQ: connection refused" in output
    assert "AMQP_URL=amqp://guest:***@127.0.0.1:" in output
    assert took < 2 + SLACK_S


def test_a_wrong_rabbitmq_password_is_named_and_not_waited_for(database_url: str, amqp_url: str) -> None:
    wrong = str(httpx.URL(amqp_url).copy_with(password="s3cret"))
    code, output, took = run([str(BIN / "orders-worker")], service_env("worker", database_url, wrong, 30), 60)
    assert code != 0
    assert_clean(output)
    assert "cannot use RabbitMQ: authentication failed" in output
    assert "dependency_waiting" not in output
    assert took < SLACK_S


def test_an_unknown_vhost_is_named(database_url: str, amqp_url: str) -> None:
    url = amqp_url.rsplit("/", 1)[0] + "/orders-no-such-vhost"
    code, output, _ = run([str(BIN / "orders-notifier")], service_env("notifier", database_url, url, 30), 60)
    assert code != 0
    assert_clean(output)
    assert "cannot use RabbitMQ: unknown vhost" in output
    assert "sudo rabbitmqctl add_vhost orders-no-such-vhost" in output


class Forwarder:
    """A TCP forwarder from a local port to RabbitMQ, started when the test says: the broker "appears"."""

    def __init__(self, port: int, target: tuple[str, int]) -> None:
        self.server = socket.create_server(("127.0.0.1", port))
        self.target = target
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            sink.close()

    def close(self) -> None:
        self.server.close()


def wait_for_line(path: Path, text: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while text not in path.read_text(errors="replace"):
        assert time.monotonic() < deadline, path.read_text(errors="replace")[-3000:]
        time.sleep(0.05)


def test_a_worker_started_before_its_broker_waits_unready_then_serves(
    database_url: str, amqp_url: str, tmp_path: Path
) -> None:
    port = free_port()
    parts = httpx.URL(amqp_url)
    late = str(parts.copy_with(host="127.0.0.1", port=port))
    env = service_env("worker", database_url, late, timeout_s=60)
    log = tmp_path / "worker.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(BIN / "orders-worker")], env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT
        )
    forwarder: Forwarder | None = None
    try:
        wait_for_line(log, '"attempt":2', timeout=30)
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://127.0.0.1:{env['WORKER_PORT']}/readyz", timeout=2)
        forwarder = Forwarder(port, (parts.host, parts.port or 5672))
        wait_for_line(log, "Application startup complete", timeout=30)
        assert httpx.get(f"http://127.0.0.1:{env['WORKER_PORT']}/readyz", timeout=5).status_code == 200
        assert process.poll() is None
    finally:
        process.terminate()
        process.wait(timeout=30)
        if forwarder is not None:
            forwarder.close()
    output = log.read_text(errors="replace")
    assert_clean(output)
    assert "dependency_unreachable" not in output
