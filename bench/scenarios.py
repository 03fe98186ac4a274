"""The scenarios: each starts its own services on a fresh database and vhost, loads them, measures them.

- ingest    wrk POSTs; afterwards the orders committed and enqueued are counted in Postgres.
- sustained wrk POSTs at 64 connections for a minute while Postgres is asked every second how many orders
            are committed and how many the outbox relay has not published yet; then how long that backlog
            takes to drain.
- e2e       the assignment's latencies, one worker; orders/min and POST→confirmed.
- pipeline  latencies 0, 1/2/4 workers; orders/s through api → worker → notifier → sockets.
- fanout    one socket per order, opened before the worker starts; delivery lag of every live event.
- limit     100,000 waiting limit orders: the trigger's CPU per pool change, crossing → `routing`, memory
            per waiting order (`bench/limit.py`).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from bench.profile import Profiler
from bench.report import Result, per_order
from bench.stack import CURRENT, Infra, Service, Stack, Tree, backlog, count_orders

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
PY = sys.executable
ASSIGNMENT_LATENCIES = {"VENUE_QUOTE_LATENCY_MS": "200-400", "VENUE_EXECUTE_LATENCY_MS": "2000-3000"}
ZERO_LATENCIES = {"VENUE_QUOTE_LATENCY_MS": "0", "VENUE_EXECUTE_LATENCY_MS": "0"}


def say(text: str) -> None:
    """Progress on stderr, so stdout holds only the table."""
    sys.stderr.write(f"[bench {time.strftime('%H:%M:%S')}] {text}\n")
    sys.stderr.flush()


class Bench:
    """Runs the scenarios one after the other, each in its own database, vhost and processes."""

    def __init__(self, args: argparse.Namespace, infra: Infra, log_dir: Path) -> None:
        self.args = args
        self.infra = infra
        self.log_dir = log_dir
        self.profiler = Profiler(args.profile, RESULTS)
        self.index = 0
        self.tree: Tree = CURRENT  # whose services the next scenario starts (--compare switches it)

    def label(self, name: str) -> str:
        """``name``, with the side when comparing: the logs' and profiles' file names."""
        return f"{name}-{self.tree.side}" if self.tree.side else name

    def load_env(self) -> dict[str, str]:
        """The load generators' environment: the API key of the tree's template, if the engine has keys."""
        key = self.infra.api_keys.get(self.tree.side)
        return {**os.environ, **({"BENCH_API_KEY": key} if key else {})}

    def stack(self, label: str) -> Stack:
        """A fresh database and vhost for ``label``, and a Stack to start the tree's processes on them."""
        database, database_url, amqp_url = self.infra.scenario(self.index, self.tree)
        self.index += 1
        env = {
            "DATABASE_URL": database_url,
            "AMQP_URL": amqp_url,
            "LOG_LEVEL": self.args.log_level,
            "LOG_FORMAT": "json",
            "SHUTDOWN_GRACE_S": "2",
            "VENUE_FAILURE_RATE": "0",
            # One key stands for the many clients a real load comes from: its per-client limits go up.
            "RATE_LIMIT_ORDERS_PER_S": "1000000",
            "RATE_LIMIT_ORDERS_BURST": "1000000",
            "WS_MAX_CONNECTIONS_PER_CLIENT": "5000",
            "API_WORKERS": str(self.args.api_workers),
        }
        return Stack(env, self.log_dir, label, database, self.tree)

    # --- ingest ---------------------------------------------------------------------------------------

    def ingest(self, connections: int) -> Result:
        """wrk POSTs at ``connections`` for the set time; then count what Postgres committed and enqueued."""
        label = self.label(f"ingest-{connections}")
        seconds = self.args.ingest_seconds
        with self.stack(label) as stack:
            api = _start_intake(stack)
            with self.profiler.recording(label, [api], seconds):
                wrk = self._wrk(label, api, connections, seconds)
            committed, enqueued = count_orders(stack.env["DATABASE_URL"])
            enqueued_after_wrk, drain_started = enqueued, time.monotonic()
            while enqueued < committed and time.monotonic() - drain_started < self.args.drain_seconds:
                time.sleep(0.25)  # the relay has no event to await from here
                committed, enqueued = count_orders(stack.env["DATABASE_URL"])
            drained_s = round(time.monotonic() - drain_started, 2)
            usage = stack.usage(wrk["wrk_cpu_s"])
        usage["postgres_stats"] = pg_stats(stack.pg_delta, committed)
        _, accepted, errors = _wrk_totals(wrk)
        detail = {
            **wrk,
            "accepted": accepted,
            "committed": committed,
            "enqueued_when_wrk_ended": enqueued_after_wrk,
            "enqueued": enqueued,
            "drain_s": drained_s,
        }
        notes = (
            f"{accepted:,} accepted, {committed:,} committed, {enqueued:,} enqueued "
            f"({enqueued_after_wrk:,} when wrk stopped; {drained_s} s to drain)"
            + _wrk_errors_note(wrk, errors)
            + f"; {_per_order_note(usage, committed)}"
        )
        detail["cpu_ms_per_order"] = per_order(usage, committed)
        ok = not errors and enqueued == committed
        return _wrk_result("ingest", connections, seconds, wrk, usage, notes, detail, ok)

    # --- sustained ---------------------------------------------------------------------------------------

    def sustained(self) -> Result:
        """wrk for ``--sustained-seconds``, the outbox's backlog sampled every second; then its drain."""
        label = self.label("sustained")
        seconds, connections = self.args.sustained_seconds, self.args.sustained_connections
        with self.stack(label) as stack:
            api = _start_intake(stack)
            database_url = stack.env["DATABASE_URL"]
            with BacklogSampler(database_url, interval_s=1.0) as during:
                wrk = self._wrk(label, api, connections, seconds)
            wrk_ended = time.monotonic()
            drain, drain_s = _drain(database_url, wrk_ended, self.args.drain_seconds)
            usage = stack.usage(wrk["wrk_cpu_s"])
        run = _Sustained.of(wrk, during.samples, drain, drain_s)
        usage["postgres_stats"] = pg_stats(stack.pg_delta, run.committed)
        detail = run.detail(wrk, connections, during.samples, drain)
        detail["cpu_ms_per_order"] = per_order(usage, run.committed)
        notes = run.notes(wrk, drain) + f"; {_per_order_note(usage, run.committed)}"
        ok = not run.errors and drain_s is not None and not during.error
        return _wrk_result("sustained", connections, seconds, wrk, usage, notes, detail, ok)

    def _wrk(self, label: str, api: Service, connections: int, seconds: int) -> dict[str, Any]:
        return _wrk(api.url, connections, seconds, self.log_dir / f"{label}-wrk.log", self.load_env())

    # --- end to end and pipeline -----------------------------------------------------------------------

    def e2e(self) -> Result:
        """The assignment's latencies, one worker holding ``--e2e-concurrency`` orders."""
        concurrency = self.args.e2e_concurrency
        label = self.label("e2e")
        with self.stack(label) as stack:
            worker_env = {"WORKER_CONCURRENCY": str(concurrency), **ASSIGNMENT_LATENCIES}
            _, _, notifier = stack.start_all([("api", {}), ("worker", worker_env), ("notifier", {})])
            stack.mark()
            args = self.args
            out = self._orders(label, stack, notifier, args.e2e_orders, args.e2e_timeout, args.e2e_sockets)
            usage = stack.usage(out["loadgen_cpu_s"])
        setting = (
            f"{self.args.e2e_orders} orders on {self.args.e2e_sockets} sockets, 1 worker, "
            f"WORKER_CONCURRENCY={concurrency}, quotes 200-400 ms, swaps 2-3 s"
        )
        return _orders_result("e2e", setting, out["throughput_per_min"], "orders/min", out, usage, stack)

    def pipeline(self, workers: int) -> Result:
        """Latencies 0: how many orders a second the whole chain carries with ``workers`` processes."""
        label = self.label(f"pipeline-{workers}w")
        concurrency = self.args.pipeline_concurrency
        # Postgres allows 100 connections; each process may open twice its pool.
        pool = str(max(4, min(10, 24 // workers)))
        with self.stack(label) as stack:
            worker_env = {"WORKER_CONCURRENCY": str(concurrency), "DB_POOL_SIZE": pool, **ZERO_LATENCIES}
            api, notifier, *_ = stack.start_all(
                [("api", {}), ("notifier", {}), *[("worker", worker_env)] * workers]
            )
            stack.mark()
            profiled = [api, stack.of("worker")[0], notifier] if workers == 1 else []
            with self.profiler.recording(label, profiled, self.args.pipeline_timeout):
                out = self._orders(
                    label,
                    stack,
                    notifier,
                    self.args.pipeline_orders,
                    self.args.pipeline_timeout,
                    self.args.pipeline_sockets,
                )
            usage = stack.usage(out["loadgen_cpu_s"])
        setting = (
            f"{workers} worker{'s' if workers > 1 else ''} x WORKER_CONCURRENCY={concurrency}, latencies 0, "
            f"{self.args.pipeline_orders} orders on {self.args.pipeline_sockets} socket"
            + ("s" if self.args.pipeline_sockets > 1 else "")
        )
        return _orders_result("pipeline", setting, out["throughput_per_s"], "orders/s", out, usage, stack)

    def _orders(
        self, label: str, stack: Stack, notifier: Service, count: int, timeout: float, sockets: int
    ) -> dict[str, Any]:
        """The load generator's `orders` mode: ``count`` orders followed on ``sockets`` sockets."""
        return self._loadgen(label, "orders", stack, notifier, count=count, timeout=timeout, sockets=sockets)

    # --- limit orders ------------------------------------------------------------------------------------

    def limit(self) -> Result:
        """Waiting limit orders: the trigger's cost per pool change, crossing → `routing`, memory."""
        # Imported here: it imports the worker's code, which only this scenario needs.
        from bench import limit

        return limit.run(self)

    # --- fan-out ---------------------------------------------------------------------------------------

    def fanout(self) -> Result:
        """One socket per order, all open and holding `pending` before the worker starts."""
        sockets, concurrency = self.args.fanout_sockets, self.args.fanout_concurrency
        label = self.label("fanout")
        with self.stack(label) as stack:
            _, notifier = stack.start_all([("api", {}), ("notifier", {})])
            stack.mark()

            def on_line(line: str) -> None:
                if line.startswith("READY"):
                    say(f"fanout: {sockets} sockets hold their order's first event; starting the worker")
                    stack.start("worker", WORKER_CONCURRENCY=str(concurrency), **ASSIGNMENT_LATENCIES)

            out = self._loadgen(
                label,
                "fanout",
                stack,
                notifier,
                count=sockets,
                timeout=self.args.fanout_timeout,
                on_line=on_line,
            )
            usage = stack.usage(out["loadgen_cpu_s"])
        usage["postgres_stats"] = pg_stats(stack.pg_delta, out["sockets"])
        notes = (
            f"{out['ready_sockets']}/{out['sockets']} sockets ready, {out['live_frames']:,} live frames "
            f"({out['frames_per_s']}/s), p90 {out['lag']['p90_ms']} ms, max {out['lag']['max_ms']} ms, "
            f"closes {out['close_codes']}"
            + (f", stream errors {out['stream_errors']}" if out["stream_errors"] else "")
            + (", TIMED OUT" if out["timed_out"] else "")
            + f"; {_per_order_note(usage, out['sockets'])}"
        )
        out["cpu_ms_per_order"] = per_order(usage, out["sockets"])
        return Result(
            "fanout",
            f"{sockets} sockets x 1 order, 1 worker, WORKER_CONCURRENCY={concurrency}, assignment latencies",
            out["frames_per_s"],
            "frames/s",
            out["lag"]["p50_ms"],
            out["lag"]["p99_ms"],
            usage,
            notes,
            out,
            ok=not out["timed_out"] and not out["stream_errors"] and out["ready_sockets"] == sockets,
        )

    def _loadgen(
        self,
        label: str,
        mode: str,
        stack: Stack,
        notifier: Service,
        *,
        count: int,
        timeout: float,
        on_line: Callable[[str], None] | None = None,
        sockets: int = 1,
    ) -> dict[str, Any]:
        api = stack.of("api")[0]
        command = [
            PY, "-m", "bench.loadgen", mode, "--api", api.url, "--ws", notifier.url.replace("http", "ws", 1),
            "--count", str(count), "--concurrency", str(self.args.post_concurrency),
            "--timeout", str(timeout), *(["--sockets", str(sockets)] if mode == "orders" else []),
        ]  # fmt: skip
        if self.args.ws_compression:
            command.append("--compression")
        say(f"{label}: load generator: {' '.join(command[2:4])} --count {count}")
        lines: list[str] = []
        cpu_before = children_cpu_s()
        with (self.log_dir / f"{label}-loadgen.log").open("wb") as err:
            proc = subprocess.Popen(
                command, cwd=ROOT, env=self.load_env(), stdout=subprocess.PIPE, stderr=err, text=True
            )
            watchdog = threading.Timer(timeout + 30, proc.kill)  # its own timeout failed: stop it anyway
            watchdog.start()
            try:
                assert proc.stdout is not None
                for line in proc.stdout:
                    lines.append(line)
                    if on_line is not None:
                        on_line(line)
                proc.wait()
            finally:
                watchdog.cancel()
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
        if proc.returncode != 0 or not lines:
            raise RuntimeError(f"load generator failed ({proc.returncode}); see {err.name}")
        result: dict[str, Any] = json.loads(lines[-1])
        result["loadgen_cpu_s"] = round(children_cpu_s() - cpu_before, 2)
        return result


class BacklogSampler:
    """Asks Postgres every ``interval_s`` for the orders committed and those the relay has not published."""

    def __init__(self, database_url: str, interval_s: float) -> None:
        self.database_url = database_url
        self.interval_s = interval_s
        self.samples: list[tuple[float, int, int]] = []  # (s since start, unpublished, committed)
        self.error = ""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="backlog", daemon=True)

    def __enter__(self) -> BacklogSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        started = time.monotonic()
        try:
            with psycopg.connect(self.database_url, autocommit=True) as conn:
                while not self._stop.wait(self.interval_s):
                    unpublished, committed = backlog(conn)
                    self.samples.append((round(time.monotonic() - started, 2), unpublished, committed))
        except psycopg.Error as exc:
            self.error = str(exc)  # the scenario is not clean; it says so


@dataclass(frozen=True)
class _Sustained:
    """What a sustained run measured, from wrk's summary and the backlog's samples."""

    accepted: int
    accepted_per_s: float
    published_per_s: float
    max_backlog: int
    max_backlog_s: float | None
    unpublished_at_end: int
    committed_at_end: int
    unpublished: int
    committed: int
    drain_s: float | None
    errors: dict[str, int]

    @classmethod
    def of(
        cls,
        wrk: dict[str, Any],
        during: list[tuple[float, int, int]],
        drain: list[tuple[float, int, int]],
        drain_s: float | None,
    ) -> _Sustained:
        """From wrk's summary and the samples taken while it ran (``during``) and after (``drain``)."""
        duration, accepted, errors = _wrk_totals(wrk)
        accepted_per_s = accepted / duration
        unpublished_at_end, committed_at_end = drain[0][1], drain[0][2]
        max_backlog = max(b for _, b, _ in [*during, *drain])
        return cls(
            accepted=accepted,
            accepted_per_s=accepted_per_s,
            published_per_s=(committed_at_end - unpublished_at_end) / duration,
            max_backlog=max_backlog,
            max_backlog_s=max_backlog / accepted_per_s if accepted_per_s > 0 else None,
            unpublished_at_end=unpublished_at_end,
            committed_at_end=committed_at_end,
            unpublished=drain[-1][1],
            committed=drain[-1][2],
            drain_s=drain_s,
            errors=errors,
        )

    def detail(
        self,
        wrk: dict[str, Any],
        connections: int,
        during: list[tuple[float, int, int]],
        drain: list[tuple[float, int, int]],
    ) -> dict[str, Any]:
        """The report's detail of the run."""
        return {
            **wrk,
            "connections": connections,
            "accepted": self.accepted,
            "accepted_per_s": round(self.accepted_per_s, 1),
            "published_per_s": round(self.published_per_s, 1),
            "committed_when_wrk_ended": self.committed_at_end,
            "backlog_when_wrk_ended": self.unpublished_at_end,
            "max_backlog": self.max_backlog,
            "max_backlog_s_of_intake": None if self.max_backlog_s is None else round(self.max_backlog_s, 2),
            "drain_s": self.drain_s,  # None: the backlog did not reach 0 within --drain-seconds
            "committed": self.committed,
            "backlog": self.unpublished,
            # (seconds since wrk started or ended, unpublished, committed)
            "samples_during_load": during,
            "samples_after_load": drain,
        }

    def notes(self, wrk: dict[str, Any], drain: list[tuple[float, int, int]]) -> str:
        """The table's note on the run, but for its CPU per order."""
        return (
            f"{self.accepted:,} accepted ({self.accepted_per_s:,.0f}/s), {self.committed:,} committed; "
            f"published {self.published_per_s:,.0f}/s while wrk ran; max backlog {self.max_backlog:,} orders"
            + (f" = {self.max_backlog_s:.2f} s of intake" if self.max_backlog_s is not None else "")
            + f", {self.unpublished_at_end:,} when wrk stopped, "
            + (
                f"drained in {self.drain_s} s"
                if self.drain_s is not None
                else f"{self.unpublished:,} still after {drain[-1][0]} s"
            )
            + _wrk_errors_note(wrk, self.errors)
        )


def _start_intake(stack: Stack) -> Service:
    """The three services at their defaults, measured from here on; the api, for wrk to load."""
    # The worker at its defaults (the assignment's latencies) takes a few orders a second.
    api, _, _ = stack.start_all([("api", {}), ("worker", {}), ("notifier", {})])
    stack.mark()
    return api


def _wrk_totals(wrk: dict[str, Any]) -> tuple[float, int, dict[str, int]]:
    """wrk's seconds of load, requests accepted, and the kinds of error it counted (those above 0)."""
    duration = wrk["duration_us"] / 1e6
    accepted = wrk["requests"] - wrk["errors"]["status"]
    return duration, accepted, {k: v for k, v in wrk["errors"].items() if v}


def _wrk_errors_note(wrk: dict[str, Any], errors: dict[str, int]) -> str:
    return f"; wrk errors {errors}, statuses {wrk.get('statuses')}" if errors else ""


def _wrk_result(
    scenario: str, connections: int, seconds: int, wrk: dict[str, Any], usage: dict[str, Any], notes: str,
    detail: dict[str, Any], ok: bool,
) -> Result:  # fmt: skip
    """The row of a run that wrk loaded: requests accepted a second, wrk's latencies."""
    duration, accepted, _ = _wrk_totals(wrk)
    setting = f"wrk {connections} conn, {seconds} s"
    p50, p99 = wrk["latency_us"]["p50"] / 1000, wrk["latency_us"]["p99"] / 1000
    return Result(
        scenario, setting, round(accepted / duration, 1), "req/s", p50, p99, usage, notes, detail, ok=ok
    )


def _orders_result(
    scenario: str, setting: str, throughput: float, unit: str, out: dict[str, Any], usage: dict[str, Any],
    stack: Stack,
) -> Result:  # fmt: skip
    """The row of a run of the load generator's `orders` mode: POST→confirmed latencies."""
    usage["postgres_stats"] = pg_stats(stack.pg_delta, out["accepted"])
    notes, p50, p99 = _orders_notes(out, usage), out["latency"]["p50_ms"], out["latency"]["p99_ms"]
    return Result(scenario, setting, throughput, unit, p50, p99, usage, notes, out, ok=_orders_ok(out))


def _drain(
    database_url: str, since: float, bound_s: float
) -> tuple[list[tuple[float, int, int]], float | None]:
    """Sample the backlog every 0.1 s from ``since`` until it is 0 or ``bound_s`` has passed: the samples
    (s since ``since``, unpublished, committed), and the seconds it took to reach 0 (None: it did not)."""
    samples: list[tuple[float, int, int]] = []
    with psycopg.connect(database_url, autocommit=True) as conn:
        while True:
            unpublished, committed = backlog(conn)
            elapsed = round(time.monotonic() - since, 2)
            samples.append((elapsed, unpublished, committed))
            if unpublished == 0:
                return samples, elapsed
            if elapsed >= bound_s:
                return samples, None
            time.sleep(0.1)  # the relay has no event to await from here


def children_cpu_s() -> float:
    """CPU seconds of every child process waited for so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def pg_stats(delta: dict[str, int], orders: int) -> dict[str, float]:
    """Postgres transactions and rows while the scenario ran, in all and per order."""
    out: dict[str, float] = dict(delta)
    if delta and orders > 0:
        out["transactions_per_order"] = round((delta["commits"] + delta["rollbacks"]) / orders, 2)
        out["rows_written_per_order"] = round((delta["rows_inserted"] + delta["rows_updated"]) / orders, 2)
    return out


def _per_order_note(usage: dict[str, Any], orders: int) -> str:
    costs = per_order(usage, orders)
    note = "CPU ms/order " + ", ".join(f"{k} {v}" for k, v in costs.items()) if costs else ""
    xacts = usage.get("postgres_stats", {}).get("transactions_per_order")
    return note + (f"; Postgres transactions/order {xacts}" if xacts is not None else "")


def _orders_ok(out: dict[str, Any]) -> bool:
    # A failed order (slippage) is an outcome, not an error; a lost one or a broken stream is.
    ended = out["confirmed"] + out["failed"]
    return not out["timed_out"] and not out["stream_errors"] and ended == out["accepted"] == out["count"]


def _orders_notes(out: dict[str, Any], usage: dict[str, Any]) -> str:
    out["cpu_ms_per_order"] = per_order(usage, out["accepted"])
    return (
        f"{out['accepted']:,}/{out['count']:,} accepted ({out['accept_rate_per_s']:,}/s), "
        f"{out['confirmed']:,} confirmed, {out['failed']} failed in {out['elapsed_s']} s; "
        f"p90 {out['latency']['p90_ms']} ms, max {out['latency']['max_ms']} ms"
        + (f"; stream errors {out['stream_errors']}" if out["stream_errors"] else "")
        + (f"; server closed sockets {out['server_closes']}" if out.get("server_closes") else "")
        + ("; TIMED OUT" if out["timed_out"] else "")
        + f"; {_per_order_note(usage, out['accepted'])}"
    )


def _wrk(url: str, connections: int, seconds: int, log_path: Path, env: dict[str, str]) -> dict[str, Any]:
    """Run wrk with wrk_post.lua; its JSON summary line, and its CPU seconds (``wrk_cpu_s``)."""
    command = [
        "wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s", "--latency",
        "-s", str(ROOT / "bench" / "wrk_post.lua"), url,
    ]  # fmt: skip
    say(f"{log_path.name.removesuffix('-wrk.log')}: {' '.join(command)}")
    cpu_before = children_cpu_s()
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=seconds + 60, check=True)
    log_path.write_text(done.stdout + done.stderr)
    for line in done.stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            parsed: dict[str, Any] = json.loads(line.removeprefix("BENCH_JSON "))
            parsed["wrk_cpu_s"] = round(children_cpu_s() - cpu_before, 2)
            return parsed
    raise RuntimeError(f"wrk printed no result; see {log_path}")
