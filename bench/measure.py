"""What the bench reads: CPU and peak RSS from /proc, Postgres's counters and what its backends wait on."""

from __future__ import annotations

import os
import re
import threading
from collections import Counter
from pathlib import Path

import psycopg

CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_times(pid: int) -> tuple[float, float]:
    """(utime, stime) of a process, in seconds ((0, 0) when it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0, 0.0
    fields = stat[stat.rindex(")") + 2 :].split()  # the command name may hold spaces and parentheses
    return int(fields[11]) / CLK_TCK, int(fields[12]) / CLK_TCK


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, in seconds (0 when it is gone)."""
    return sum(cpu_times(pid))


def descendants(pid: int) -> list[int]:
    """The processes ``pid`` started, and theirs (the api's worker processes with API_WORKERS > 1)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat[stat.rindex(")") + 2 :].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def tree_cpu_times(pid: int) -> tuple[float, float]:
    """(utime, stime) of a process and every process under it, in seconds."""
    times = [cpu_times(p) for p in (pid, *descendants(pid))]
    return sum(t[0] for t in times), sum(t[1] for t in times)


def peak_rss_mb(pid: int) -> float:
    """VmHWM of a process: its peak resident set, in MiB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _pids_named(comm: str) -> list[tuple[int, str]]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() != comm:
                continue
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        found.append((int(entry.name), cmdline))
    return found


_CLIENT_BACKEND = re.compile(r"^postgres: \S+ \S+ (\[local\]|\S+\(\d+\))")


def postgres_pids(database: str) -> list[int]:
    """The server's own processes and the backends serving ``database`` (not other clients' backends)."""
    return [
        pid
        for pid, cmdline in _pids_named("postgres")
        if f" {database} " in cmdline or not _CLIENT_BACKEND.match(cmdline)
    ]


def rabbitmq_pids() -> list[int]:
    """The RabbitMQ node (shared with anything else using the broker)."""
    return [pid for pid, _ in _pids_named("beam.smp")]


def host_busy() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    total = sum(values[:8])
    return total - values[3] - values[4], total


def pg_counters(database_url: str) -> dict[str, int]:
    """Transactions and rows of the database so far, from pg_stat_database."""
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT xact_commit, xact_rollback, tup_inserted, tup_updated, tup_returned, tup_fetched"
            " FROM pg_stat_database WHERE datname = current_database()"
        ).fetchone()
    assert row is not None
    names = ("commits", "rollbacks", "rows_inserted", "rows_updated", "rows_returned", "rows_fetched")
    return {name: int(value) for name, value in zip(names, row, strict=True)}


class ActivitySampler:
    """Samples pg_stat_activity of one database a few times a second: what its backends wait on."""

    def __init__(self, database_url: str, interval_s: float = 0.25) -> None:
        self.database_url = database_url
        self.interval_s = interval_s
        self.samples = 0
        self.states: Counter[str] = Counter()
        self.waits: Counter[str] = Counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pg-activity", daemon=True)

    def start(self) -> None:
        """Begin sampling in a thread."""
        self._thread.start()

    def _run(self) -> None:
        query = (
            "SELECT state, wait_event_type, wait_event FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        try:
            with psycopg.connect(self.database_url, autocommit=True) as conn:
                while not self._stop.wait(self.interval_s):
                    self.samples += 1
                    for state, wait_type, wait in conn.execute(query).fetchall():
                        self.states[state or "?"] += 1
                        if state == "active" and wait_type:
                            self.waits[f"{wait_type}:{wait}"] += 1
        except psycopg.Error:
            pass  # Postgres went away: the scenario will say so

    def stop(self) -> dict[str, object]:
        """Stop; the average number of backends in each state and waiting on each event."""
        self._stop.set()
        self._thread.join(timeout=5)
        n = max(self.samples, 1)
        return {
            "samples": self.samples,
            "avg_backends_by_state": {k: round(v / n, 2) for k, v in self.states.most_common()},
            "avg_active_backends_waiting_on": {k: round(v / n, 2) for k, v in self.waits.most_common(8)},
        }
