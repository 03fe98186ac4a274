"""`make bench`: start the services as real processes, run each scenario within its bounds, print one table.

    python -m bench.run [--only ingest,sustained,e2e,pipeline,fanout,limit] [--profile] [--quick]
                        [--compare REV]

Scenarios (each on a fresh database cloned from a migrated template, its own vhost, fresh processes):

- ingest    wrk POSTs for ``--ingest-seconds`` at each of ``--ingest-connections``; afterwards the orders
            committed and enqueued (``enqueued_at`` set) are counted in Postgres.
- sustained wrk POSTs at ``--sustained-connections`` for ``--sustained-seconds`` while Postgres is asked
            every second for the orders committed and those the outbox relay has not published yet;
            accepted/s, published/s, the largest backlog, and how long it takes to drain once wrk stops.
- e2e       the assignment's latencies (quotes 200-400 ms, swaps 2-3 s), one worker: ``--e2e-orders``
            submitted as fast as possible; orders/min completed and POST→confirmed p50/p99.
- pipeline  latencies 0: orders/s through api → worker → notifier → subscribed sockets, for each
            count of worker processes in ``--pipeline-workers``.
- fanout    one socket per order, ``--fanout-sockets`` of them, opened before the worker starts; delivery
            lag from the event's timestamp ``at`` to the frame read.
- limit     ``--limit-orders`` waiting limit orders inserted in one statement: the trigger's CPU per pool
            change, crossing pool change → `routing`, memory per waiting order (``bench/limit.py``).

The table goes to stdout and, with every detail, to ``bench/results/bench-<UTC time>.json`` (and
``latest.json``). ``--profile`` also records py-spy flame graphs of the services during ingest and pipeline
(``bench/results/<scenario>-<service>.svg``, raw stacks beside them, summarised in ``profile.txt``).

``--compare REV`` checks REV out into a temporary git worktree with a virtualenv of its own (uv, from its
lockfile) and runs every scenario for REV's services ("old") and this tree's ("new") alternately, then
prints a second table: each side's throughput, latencies and CPU per order, and new/old.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from bench.compare import current_tree, resolve, worktree
from bench.profile import summarize
from bench.report import Result, compare_summary, machine, render_compare, render_table
from bench.scenarios import RESULTS, ROOT, Bench, say
from bench.stack import CURRENT, Infra, Tree

# --- main ------------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The bounds of every scenario; the defaults are what `make bench` runs."""
    p = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument(
        "--only", default="ingest,sustained,e2e,pipeline,fanout,limit", help="comma-separated scenarios"
    )
    p.add_argument("--profile", action="store_true", help="py-spy flame graphs during ingest and pipeline")
    p.add_argument("--quick", action="store_true", help="smaller counts and shorter runs (a smoke test)")
    p.add_argument("--keep-logs", action="store_true", help="keep the services' logs also after a clean run")
    p.add_argument("--log-level", default="info", choices=("debug", "info", "warning", "error"))
    p.add_argument("--ingest-connections", default="16,64")
    p.add_argument("--ingest-seconds", type=int, default=20)
    p.add_argument("--drain-seconds", type=float, default=30, help="wait this long for the outbox")
    p.add_argument("--sustained-connections", type=int, default=64)
    p.add_argument("--sustained-seconds", type=int, default=60)
    p.add_argument("--e2e-orders", type=int, default=1000)
    p.add_argument("--e2e-concurrency", type=int, default=1000, help="WORKER_CONCURRENCY of e2e")
    p.add_argument("--fanout-concurrency", type=int, default=100, help="WORKER_CONCURRENCY of fanout")
    p.add_argument("--e2e-timeout", type=float, default=150)
    p.add_argument("--e2e-sockets", type=int, default=4, help="a socket follows at most 500 orders at once")
    p.add_argument("--pipeline-workers", default="1,2,4")
    p.add_argument("--pipeline-orders", type=int, default=1500)
    p.add_argument("--pipeline-concurrency", type=int, default=64, help="WORKER_CONCURRENCY per worker")
    p.add_argument("--pipeline-timeout", type=float, default=75)
    p.add_argument("--pipeline-sockets", type=int, default=8, help="sockets sharing the orders")
    p.add_argument("--fanout-sockets", type=int, default=1000)
    p.add_argument("--fanout-timeout", type=float, default=120)
    p.add_argument("--limit-orders", type=int, default=100_000, help="waiting limit orders of limit")
    p.add_argument("--limit-crossings", type=int, default=200, help="pool changes that cross an order")
    p.add_argument("--limit-passes", type=int, default=500, help="trigger passes timed in-process")
    p.add_argument("--limit-timeout", type=float, default=10, help="for a crossed order to fire")
    p.add_argument("--api-workers", type=int, default=1, help="API_WORKERS: api processes on its one port")
    p.add_argument("--post-concurrency", type=int, default=32, help="HTTP connections of the load generator")
    p.add_argument("--ws-compression", action="store_true", help="clients offer permessage-deflate")
    budget = "skip what would start after this (with --compare: after this times the runs per scenario)"
    p.add_argument("--budget-seconds", type=float, default=540, help=budget)
    p.add_argument("--compare", metavar="REV", help="also run REV's services (a git worktree) and compare")
    rounds = "runs per side and scenario: 1 is old, new; 2 is old, new, new, old; …"
    p.add_argument("--compare-rounds", type=int, default=1, help=rounds)
    p.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/orders"),
    )
    p.add_argument("--amqp-url", default=os.environ.get("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/"))
    args = p.parse_args(argv)
    if args.quick:
        args.ingest_seconds, args.e2e_orders, args.pipeline_orders, args.fanout_sockets = 3, 100, 200, 100
        args.drain_seconds, args.sustained_seconds = 10, 8
        args.limit_orders, args.limit_crossings, args.limit_passes = 10_000, 20, 100
    if args.compare_rounds < 1:
        p.error("--compare-rounds must be at least 1")
    return args


def _interrupted(signum: int, _: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    """Run the chosen scenarios, print the table, write the JSON; always clean up what was made."""
    args = parse_args(argv)
    if args.compare:
        try:
            resolve(args.compare)
        except RuntimeError as exc:
            say(f"--compare: {exc}")
            return 2
    signal.signal(signal.SIGTERM, _interrupted)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 65536)), hard))
    plan = _plan(args)
    RESULTS.mkdir(parents=True, exist_ok=True)
    log_dir = Path(tempfile.mkdtemp(prefix="orders-bench-"))
    started, started_at = time.monotonic(), datetime.now(UTC)
    infra = Infra(args.database_url, args.amqp_url)
    bench = Bench(args, infra, log_dir)
    building: contextlib.AbstractContextManager[tuple[Tree, str] | None] = (
        worktree(args.compare, log_dir) if args.compare else contextlib.nullcontext()
    )
    with building as old:
        order, compared = _sides(args, old)
        try:
            trees = list({t.side: t for t in order}.values())
            say(f"database orders_bench_{infra.tag}_*, vhosts orders-bench-{infra.tag}-*, logs in {log_dir}")
            infra.setup(len(plan) * len(order), log_dir, trees)
            # Comparing, a side's second attempt runs even past the budget.
            results, skipped = _run_plan(bench, plan, order, strict=old is None)
        finally:
            bench.profiler.stop()
            infra.teardown()
    failed = not all(r.ok for r in results)
    table = _table(results, compared)
    sys.stdout.write("\n" + table + "\n")
    report = _report(args, table, results, skipped, compared, started, started_at)
    _write(report, started_at, bench)
    retried = any(r.detail.get("attempt", 1) > 1 for r in results)
    if failed or retried or args.keep_logs:
        say(f"service and load generator logs kept in {log_dir}")
    else:
        shutil.rmtree(log_dir, ignore_errors=True)
    return 1 if failed else 0


def _plan(args: argparse.Namespace) -> list[tuple[str, Callable[[Bench], Result]]]:
    """The runs ``--only`` asks for, in order, each named as the table shows it."""
    only = {s.strip() for s in args.only.split(",") if s.strip()}
    plan: list[tuple[str, Callable[[Bench], Result]]] = []
    if "ingest" in only and _wrk_installed("ingest"):
        for c in (int(x) for x in args.ingest_connections.split(",")):
            plan.append((f"ingest-{c}", functools.partial(Bench.ingest, connections=c)))
    if "sustained" in only and _wrk_installed("sustained"):
        plan.append(("sustained", Bench.sustained))
    if "e2e" in only:
        plan.append(("e2e", Bench.e2e))
    if "pipeline" in only:
        for n in (int(x) for x in args.pipeline_workers.split(",")):
            plan.append((f"pipeline-{n}w", functools.partial(Bench.pipeline, workers=n)))
    if "fanout" in only:
        plan.append(("fanout", Bench.fanout))
    if "limit" in only:
        plan.append(("limit", Bench.limit))
    return plan


def _wrk_installed(scenario: str) -> bool:
    """Whether wrk is there to drive ``scenario``; says so when it is not."""
    if shutil.which("wrk") is None:
        say(f"wrk is not installed (Debian's wrk package; `make bench` installs it): skipping {scenario}")
        return False
    return True


def _sides(args: argparse.Namespace, old: tuple[Tree, str] | None) -> tuple[list[Tree], dict[str, Any]]:
    """The trees each scenario runs on, in order, and what the report says of the comparison ({}: none)."""
    if old is None:
        return [CURRENT], {}
    new = current_tree()
    # ABBA: old, new, then new, old, … so neither side always runs on the warmer machine.
    pairs = [(old[0], new[0]) if i % 2 == 0 else (new[0], old[0]) for i in range(args.compare_rounds)]
    order = [tree for pair in pairs for tree in pair]
    compared = {
        "old": {"rev": args.compare, "commit": old[0].commit, "worktree": str(old[0].root)},
        "new": {"commit": new[0].commit, "tree": str(ROOT)},
        "rounds": args.compare_rounds,
        "order": [t.side for t in order],
        "title": f"Compared: old = {old[1]}; new = {new[1]}. "
        f"Each scenario ran {', '.join(t.side for t in order)}.",
    }
    say(compared["title"])
    return order, compared


def _run_plan(
    bench: Bench, plan: list[tuple[str, Callable[[Bench], Result]]], order: list[Tree], *, strict: bool
) -> tuple[list[Result], list[str]]:
    """Each run of ``plan`` on each tree of ``order`` while the budget lasts: the results and what was
    skipped."""
    budget = bench.args.budget_seconds * len(order)  # per side and round
    begun = time.monotonic()
    results: list[Result] = []
    skipped: list[str] = []
    for name, run in plan:
        if time.monotonic() - begun > budget:
            skipped.append(name)
            say(f"{name}: skipped, past the time budget")
            continue
        for tree in order:
            bench.tree = tree
            result = _run_once(bench, name, run, lambda: strict and time.monotonic() - begun > budget)
            if result is None:
                skipped.append(name)
                continue
            result.name, result.side = name, tree.side
            results.append(result)
    return results, skipped


def _table(results: list[Result], compared: dict[str, Any]) -> str:
    """The results table, and the comparison's below it when comparing (which adds its summary)."""
    table = render_table(results)
    if compared:
        compared["summary"] = compare_summary(results)
        table += "\n\n" + render_compare(compared["summary"], compared["title"])
    return table


def _report(
    args: argparse.Namespace,
    table: str,
    results: list[Result],
    skipped: list[str],
    compared: dict[str, Any],
    started: float,
    started_at: datetime,
) -> dict[str, Any]:
    """What bench/results keeps of this run."""
    return {
        "started_at": started_at.isoformat(),
        "took_s": round(time.monotonic() - started, 1),
        "machine": machine(),
        "args": vars(args),
        "skipped": skipped,
        "table": table,
        "compare": compared or None,
        "results": [r.__dict__ for r in results],
    }


def _write(report: dict[str, Any], started_at: datetime, bench: Bench) -> None:
    """``report`` to bench/results (and latest.json), and the profiles' summary if there are profiles."""
    stamp = started_at.strftime("%Y%m%dT%H%M%SZ")
    out = RESULTS / f"bench-{stamp}.json"
    out.write_text(json.dumps(report, indent=2, default=str) + "\n")
    shutil.copyfile(out, RESULTS / "latest.json")
    if bench.profiler.outputs:
        summary = summarize([p for p in bench.profiler.outputs if p.suffix == ".txt" and p.exists()])
        (RESULTS / "profile.txt").write_text(summary)
        say(f"profiles: {', '.join(p.name for p in bench.profiler.outputs if p.suffix == '.svg')}")
    say(f"wrote {out.relative_to(ROOT)} in {report['took_s']} s")


def _run_once(
    bench: Bench, name: str, run: Callable[[Bench], Result], past_budget: Callable[[], bool]
) -> Result | None:
    """Run one scenario on ``bench.tree``'s services; once more if that went wrong (others share this
    machine) and the budget allows. None: skipped."""
    label = f"{name} ({bench.tree.side})" if bench.tree.side else name
    for attempt in (1, 2):
        if past_budget():
            say(f"{label}: skipped, past the time budget")
            return None
        say(f"{label}: starting" + (" again" if attempt == 2 else ""))
        try:
            result = run(bench)
        except (RuntimeError, TimeoutError, OSError, subprocess.SubprocessError, psycopg.Error) as exc:
            say(f"{label}: FAILED: {exc}")
            result = Result(name, "failed", None, "", None, None, notes=str(exc), ok=False)
        result.detail["attempt"] = attempt
        if result.ok or attempt == 2:
            return result
        say(f"{label}: not clean ({result.notes}); running it again")
    raise AssertionError("unreachable")


if __name__ == "__main__":
    sys.exit(main())
