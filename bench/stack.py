"""What the bench runs on: a database and a vhost per scenario, and the services as processes.

Every scenario gets a fresh database (cloned from one migrated template) and a fresh RabbitMQ vhost, so no
order or message of one scenario is seen by the next; `Infra.teardown` drops them all.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

from bench.measure import (
    CLK_TCK,
    ActivitySampler,
    cpu_seconds,
    host_busy,
    peak_rss_mb,
    pg_counters,
    postgres_pids,
    rabbitmq_pids,
    tree_cpu_times,
)
from tests.support import services
from tests.support.services import PORT_VAR, free_port

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Tree:
    """The source tree whose services (and migrations, and API-key command) a run starts.

    The current tree runs from the bench's own virtualenv; with ``--compare`` the other revision runs from a
    git worktree with a virtualenv of its own. The bench code (load generators, measurement) is always the
    current tree's.
    """

    side: str  # "new" or "old" when comparing, "" otherwise
    root: Path
    bin: Path
    commit: str = ""

    def command(self, name: str) -> list[str]:
        """The console script ``name`` of this tree's virtualenv."""
        return [str(self.bin / name)]

    def env(self) -> dict[str, str]:
        """The process environment with this tree's virtualenv in front."""
        env = dict(os.environ)
        env.pop("PYTHONPATH", None)
        env["VIRTUAL_ENV"] = str(self.bin.parent)
        env["PATH"] = f"{self.bin}{os.pathsep}{env.get('PATH', '')}"
        return env


CURRENT = Tree("", ROOT, BIN)


# --- database and vhost ------------------------------------------------------------------------------


def _with_path(url: str, path: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def _rabbitmqctl(*args: str) -> None:
    ctl = shutil.which("rabbitmqctl") or "/usr/sbin/rabbitmqctl"
    subprocess.run([ctl, "-q", *args], check=True, capture_output=True, timeout=60)


@dataclass
class Infra:
    """Databases and vhosts of one bench run, all named ``orders_bench_<tag>…``."""

    database_url: str
    amqp_url: str
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:10])
    databases: list[str] = field(default_factory=list)
    vhosts: list[str] = field(default_factory=list)
    api_keys: dict[str, str | None] = field(default_factory=dict)  # by Tree.side

    @property
    def admin_url(self) -> str:
        """The server's `postgres` database, to create and drop ours."""
        return _with_path(self.database_url, "/postgres")

    def template(self, tree: Tree = CURRENT) -> str:
        """The database migrated once (by ``tree``'s migrations) and cloned for each of its scenarios."""
        return f"orders_bench_{self.tag}_tpl" + (f"_{tree.side}" if tree.side else "")

    def setup(self, scenarios: int, log_dir: Path, trees: Iterable[Tree] = (CURRENT,)) -> None:
        """Migrate a template per tree with its `orders-migrate` and create one vhost per scenario."""
        for tree in trees:
            template = self.template(tree)
            self.databases.append(template)
            with (log_dir / f"migrate{'-' + tree.side if tree.side else ''}.log").open("wb") as log:
                subprocess.run(
                    [*tree.command("orders-migrate"), "--create-database"],
                    cwd=tree.root,
                    env={**tree.env(), "DATABASE_URL": _with_path(self.database_url, f"/{template}")},
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    check=True,
                    timeout=120,
                )
            self.api_keys[tree.side] = _create_api_key(_with_path(self.database_url, f"/{template}"), tree)
        names = [f"orders-bench-{self.tag}-{i}" for i in range(scenarios)]
        self.vhosts.extend(names)
        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(self._add_vhost, names))

    @staticmethod
    def _add_vhost(name: str) -> None:
        _rabbitmqctl("add_vhost", name)
        _rabbitmqctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")

    def scenario(self, index: int, tree: Tree = CURRENT) -> tuple[str, str, str]:
        """(database name, DATABASE_URL, AMQP_URL) of scenario ``index``: a fresh clone of ``tree``'s
        template and its own vhost."""
        self.wait_available()
        while index >= len(self.vhosts):  # a scenario run again after a failure
            self.vhosts.append(f"orders-bench-{self.tag}-{len(self.vhosts)}")
            self._add_vhost(self.vhosts[-1])
        name = f"orders_bench_{self.tag}_{index}"
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                    *map(sql.Identifier, (name, self.template(tree)))
                )
            )
        self.databases.append(name)
        return (
            name,
            _with_path(self.database_url, f"/{name}"),
            _with_path(self.amqp_url, f"/{self.vhosts[index]}"),
        )

    def wait_available(self, timeout: float = 90) -> None:
        """Wait until Postgres and RabbitMQ accept connections (others on this machine may restart them)."""
        amqp = urlsplit(self.amqp_url)
        deadline = time.monotonic() + timeout
        while True:
            try:
                with psycopg.connect(self.admin_url, connect_timeout=2) as conn:
                    conn.execute("SELECT 1")
                with socket.create_connection((amqp.hostname or "127.0.0.1", amqp.port or 5672), timeout=2):
                    return
            except (psycopg.Error, OSError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(1)  # nothing to await: the servers are someone else's

    def teardown(self) -> None:
        """Drop every database and vhost this run made (errors are reported, the rest still goes)."""
        problems: list[str] = []
        try:
            with psycopg.connect(self.admin_url, autocommit=True) as conn:
                for name in reversed(self.databases):
                    conn.execute(
                        sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
                    )
        except psycopg.Error as exc:
            problems.append(f"databases: {exc}")
        with ThreadPoolExecutor(max_workers=4) as pool:
            for name, error in zip(self.vhosts, pool.map(_delete_vhost, self.vhosts), strict=True):
                if error:
                    problems.append(f"vhost {name}: {error}")
        self.databases.clear()
        self.vhosts.clear()
        if problems:
            sys.stderr.write("bench: cleanup problems: " + "; ".join(problems) + "\n")


def _create_api_key(database_url: str, tree: Tree) -> str | None:
    """An API key in the template (so every clone has it), made with `orders-api-key`; None without it."""
    cli = tree.bin / "orders-api-key"
    if not cli.exists():
        return None
    done = subprocess.run(
        [str(cli), "create", "make bench"],
        cwd=tree.root,
        env={**tree.env(), "DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    match = re.search(r"^key:\s+(\S+)$", done.stdout, re.MULTILINE)
    if match is None:
        raise RuntimeError(f"orders-api-key printed no key: {done.stdout}")
    return match[1]


def _delete_vhost(name: str) -> str:
    try:
        _rabbitmqctl("delete_vhost", name)
    except (subprocess.SubprocessError, OSError) as exc:
        return str(exc)
    return ""


def count_orders(database_url: str) -> tuple[int, int]:
    """(orders committed, orders enqueued) in a scenario's database."""
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT count(*), count(enqueued_at) FROM orders").fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


BACKLOG_QUERY = "SELECT count(*) FILTER (WHERE enqueued_at IS NULL), count(*) FROM orders"


def backlog(conn: psycopg.Connection[Any]) -> tuple[int, int]:
    """(orders committed but not yet published by the outbox relay, orders committed) on ``conn``."""
    row = conn.execute(BACKLOG_QUERY).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


# --- the services --------------------------------------------------------------------------------------


@dataclass
class Service(services.Service):
    """One service process, and its CPU when the measurement started."""

    cpu_at_mark: float = 0.0
    sys_at_mark: float = 0.0

    @property
    def pid(self) -> int:
        """Its process id."""
        return self.process.pid

    def mark(self) -> None:
        """Remember its CPU so far."""
        user, system = tree_cpu_times(self.pid)
        self.cpu_at_mark, self.sys_at_mark = user + system, system


class Stack:
    """The services of one scenario; `with Stack(...)` stops every process it started, whatever happens."""

    def __init__(
        self, env: Mapping[str, str], log_dir: Path, label: str, database: str, tree: Tree = CURRENT
    ) -> None:
        self.env = dict(env)
        self.tree = tree
        self.log_dir = log_dir
        self.label = label
        self.database = database
        self.services: list[Service] = []
        self._pg_at_mark: dict[str, int] = {}
        self._activity: ActivitySampler | None = None
        self.pg_delta: dict[str, int] = {}
        self._infra_at_mark: dict[str, dict[int, float]] = {}
        self._host_at_mark = (0.0, 0.0)
        self._marked_at = 0.0

    def __enter__(self) -> Stack:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self, name: str, **extra_env: str) -> Service:
        """Start `orders-<name>` on a free loopback port and wait until its /readyz answers 200."""
        return self.start_all([(name, extra_env)])[0]

    def start_all(self, specs: Iterable[tuple[str, Mapping[str, str]]]) -> list[Service]:
        """Start several services at once, then wait for each to be ready."""
        started = [self._spawn(name, extra_env) for name, extra_env in specs]
        for service in started:
            _wait_ready(service)
        for service in started:
            service.mark()  # started after the stack's `mark`: count from ready on
        return started

    def _spawn(self, name: str, extra_env: Mapping[str, str]) -> Service:
        port = free_port()
        index = sum(1 for s in self.services if s.name == name)
        log_path = self.log_dir / f"{self.label}-{name}{index or ''}.log"
        with log_path.open("wb") as log_file:
            process = subprocess.Popen(
                self.tree.command(f"orders-{name}"),
                cwd=self.tree.root,
                env={**self.tree.env(), **self.env, **extra_env, PORT_VAR[name]: str(port)},
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a Ctrl-C at the terminal reaches the bench, which stops them
            )
        service = Service(name, port, process, log_path)
        self.services.append(service)
        return service

    def of(self, name: str) -> list[Service]:
        """The running services called ``name``."""
        return [s for s in self.services if s.name == name]

    def mark(self) -> None:
        """Start measuring: remember each process's CPU so far."""
        for service in self.services:
            service.mark()
        self._pg_at_mark = pg_counters(self.env["DATABASE_URL"])
        self._activity = ActivitySampler(self.env["DATABASE_URL"])
        self._activity.start()
        self._infra_at_mark = {
            "postgres": {pid: cpu_seconds(pid) for pid in postgres_pids(self.database)},
            "rabbitmq": {pid: cpu_seconds(pid) for pid in rabbitmq_pids()},
        }
        self._host_at_mark = host_busy()
        self._marked_at = time.monotonic()

    def usage(self, load_cpu_s: float = 0.0) -> dict[str, object]:
        """CPU seconds since `mark` and peak RSS of every service process; CPU of Postgres, RabbitMQ, the
        load generator (``load_cpu_s``, measured by the caller) and of everything else on the host."""
        processes = [
            {
                "service": s.name,
                "pid": s.pid,
                "cpu_s": round(sum(tree_cpu_times(s.pid)) - s.cpu_at_mark, 2),
                "sys_s": round(tree_cpu_times(s.pid)[1] - s.sys_at_mark, 2),
                "peak_rss_mb": round(peak_rss_mb(s.pid), 1),
            }
            for s in self.services
        ]
        infra = {}
        for name, pids in (("postgres", postgres_pids(self.database)), ("rabbitmq", rabbitmq_pids())):
            before = self._infra_at_mark.get(name, {})
            infra[name] = round(sum(cpu_seconds(pid) - before.get(pid, 0.0) for pid in pids), 2)
        busy, total = host_busy()
        busy0, total0 = self._host_at_mark
        host_cpu_s = (busy - busy0) / CLK_TCK
        known = (
            sum(sum(tree_cpu_times(s.pid)) - s.cpu_at_mark for s in self.services)
            + sum(infra.values())
            + load_cpu_s
        )
        activity = self._activity.stop() if self._activity is not None else {}
        self._activity = None
        return {
            "processes": processes,
            "postgres_activity": activity,
            "infra_cpu_s": infra,
            "load_cpu_s": round(load_cpu_s, 2),
            "other_cpu_s": round(max(0.0, host_cpu_s - known), 2),
            "host_busy_pct": round(100 * (busy - busy0) / max(total - total0, 1), 1),
            "wall_s": round(time.monotonic() - self._marked_at, 2),
        }

    def stop(self) -> None:
        """SIGTERM every service, SIGKILL what is still up 15 s later."""
        if self._activity is not None:
            self._activity.stop()
            self._activity = None
        for service in self.services:
            if service.process.poll() is None:
                service.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for service in self.services:
            try:
                service.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                service.process.kill()
                service.process.wait()
        self.services.clear()
        if self._pg_at_mark:
            # Backends report their statistics when they exit, which follows their client's exit closely.
            time.sleep(0.5)
            with contextlib.suppress(psycopg.Error):
                after = pg_counters(self.env["DATABASE_URL"])
                self.pg_delta = {k: after[k] - self._pg_at_mark.get(k, 0) for k in after}
            self._pg_at_mark = {}


def _wait_ready(service: Service, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if service.process.poll() is not None:
            raise RuntimeError(
                f"{service.name} exited with {service.process.returncode}; see {service.log_path}"
            )
        try:
            with urllib.request.urlopen(f"{service.url}/readyz", timeout=1) as reply:
                if reply.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.05)  # readiness has no event to await: poll it
    raise TimeoutError(f"{service.name} not ready after {timeout}s; see {service.log_path}")
