"""The scenarios: each starts its own services on a fresh database and vhost, loads them, measures them.

- ingest    wrk POSTs; afterwards the orders committed and enqueued are counted in Postgres.
- e2e       the assignment's latencies, one worker; orders/min and POST→confirmed.
- pipeline  latencies 0, 1/2/4 workers; orders/s through api → worker → notifier → sockets.
- fanout    one socket per order, opened before the worker starts; delivery lag of every live event.
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
from pathlib import Path
from typing import Any

from bench.profile import Profiler
from bench.report import Result, per_order
from bench.stack import Infra, Service, Stack, count_orders

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

    def load_env(self) -> dict[str, str]:
        """The load generators' environment: the API key, if the engine has keys."""
        return {**os.environ, **({"BENCH_API_KEY": self.infra.api_key} if self.infra.api_key else {})}

    def stack(self, label: str) -> Stack:
        """A fresh database and vhost for ``label``, and a Stack to start processes on them."""
        database, database_url, amqp_url = self.infra.scenario(self.index)
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
        }
        return Stack(env, self.log_dir, label, database)

    # --- ingest ----------------------------------------------------------------------------------------

    def ingest(self, connections: int) -> Result:
        """wrk POSTs at ``connections`` for the set time; then count what Postgres committed and enqueued."""
        label = f"ingest-{connections}"
        seconds = self.args.ingest_seconds
        with self.stack(label) as stack:
            # The worker at its defaults (the assignment's latencies) takes a few orders a second.
            api, _, _ = stack.start_all([("api", {}), ("worker", {}), ("notifier", {})])
            stack.mark()
            with self.profiler.recording(label, [api], seconds):
                wrk = _wrk(api.url, connections, seconds, self.log_dir / f"{label}-wrk.log", self.load_env())
            committed, enqueued = count_orders(stack.env["DATABASE_URL"])
            enqueued_after_wrk, drain_started = enqueued, time.monotonic()
            while enqueued < committed and time.monotonic() - drain_started < self.args.drain_seconds:
                time.sleep(0.25)  # the relay has no event to await from here
                committed, enqueued = count_orders(stack.env["DATABASE_URL"])
            drained_s = round(time.monotonic() - drain_started, 2)
            usage = stack.usage(wrk["wrk_cpu_s"])
        usage["postgres_stats"] = pg_stats(stack.pg_delta, committed)
        duration = wrk["duration_us"] / 1e6
        accepted = wrk["requests"] - wrk["errors"]["status"]
        errors = {k: v for k, v in wrk["errors"].items() if v}
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
            + (f"; wrk errors {errors}, statuses {wrk.get('statuses')}" if errors else "")
            + f"; {_per_order_note(usage, committed)}"
        )
        detail["cpu_ms_per_order"] = per_order(usage, committed)
        return Result(
            "ingest",
            f"wrk {connections} conn, {seconds} s",
            round(accepted / duration, 1),
            "req/s",
            wrk["latency_us"]["p50"] / 1000,
            wrk["latency_us"]["p99"] / 1000,
            usage,
            notes,
            detail,
            ok=not errors and enqueued == committed,
        )

    # --- end to end and pipeline -----------------------------------------------------------------------

    def e2e(self) -> Result:
        """The assignment's latencies, one worker holding ``--e2e-concurrency`` orders."""
        concurrency = self.args.e2e_concurrency
        with self.stack("e2e") as stack:
            worker_env = {"WORKER_CONCURRENCY": str(concurrency), **ASSIGNMENT_LATENCIES}
            _, _, notifier = stack.start_all([("api", {}), ("worker", worker_env), ("notifier", {})])
            stack.mark()
            out = self._loadgen(
                "e2e",
                "orders",
                stack,
                notifier,
                count=self.args.e2e_orders,
                timeout=self.args.e2e_timeout,
                sockets=self.args.e2e_sockets,
            )
            usage = stack.usage(out["loadgen_cpu_s"])
        usage["postgres_stats"] = pg_stats(stack.pg_delta, out["accepted"])
        return Result(
            "e2e",
            f"{self.args.e2e_orders} orders on {self.args.e2e_sockets} sockets, 1 worker, "
            f"WORKER_CONCURRENCY={concurrency}, quotes 200-400 ms, swaps 2-3 s",
            out["throughput_per_min"],
            "orders/min",
            out["latency"]["p50_ms"],
            out["latency"]["p99_ms"],
            usage,
            _orders_notes(out, usage),
            out,
            ok=_orders_ok(out),
        )

    def pipeline(self, workers: int) -> Result:
        """Latencies 0: how many orders a second the whole chain carries with ``workers`` processes."""
        label = f"pipeline-{workers}w"
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
                out = self._loadgen(
                    label,
                    "orders",
                    stack,
                    notifier,
                    count=self.args.pipeline_orders,
                    timeout=self.args.pipeline_timeout,
                    sockets=self.args.pipeline_sockets,
                )
            usage = stack.usage(out["loadgen_cpu_s"])
        usage["postgres_stats"] = pg_stats(stack.pg_delta, out["accepted"])
        return Result(
            "pipeline",
            f"{workers} worker{'s' if workers > 1 else ''} x WORKER_CONCURRENCY={concurrency}, latencies 0, "
            f"{self.args.pipeline_orders} orders on {self.args.pipeline_sockets} socket"
            + ("s" if self.args.pipeline_sockets > 1 else ""),
            out["throughput_per_s"],
            "orders/s",
            out["latency"]["p50_ms"],
            out["latency"]["p99_ms"],
            usage,
            _orders_notes(out, usage),
            out,
            ok=_orders_ok(out),
        )

    # --- fan-out ---------------------------------------------------------------------------------------

    def fanout(self) -> Result:
        """One socket per order, all open and holding `pending` before the worker starts."""
        sockets, concurrency = self.args.fanout_sockets, self.args.fanout_concurrency
        with self.stack("fanout") as stack:
            _, notifier = stack.start_all([("api", {}), ("notifier", {})])
            stack.mark()

            def on_line(line: str) -> None:
                if line.startswith("READY"):
                    say(f"fanout: {sockets} sockets hold their order's first event; starting the worker")
                    stack.start("worker", WORKER_CONCURRENCY=str(concurrency), **ASSIGNMENT_LATENCIES)

            out = self._loadgen(
                "fanout",
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
    command = [
        "wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s", "--latency",
        "-s", str(ROOT / "bench" / "wrk_post.lua"), url,
    ]  # fmt: skip
    say(f"ingest: {' '.join(command)}")
    cpu_before = children_cpu_s()
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=seconds + 60, check=True)
    log_path.write_text(done.stdout + done.stderr)
    for line in done.stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            parsed: dict[str, Any] = json.loads(line.removeprefix("BENCH_JSON "))
            parsed["wrk_cpu_s"] = round(children_cpu_s() - cpu_before, 2)
            return parsed
    raise RuntimeError(f"wrk printed no result; see {log_path}")
