"""Soak: 10,000 orders (a tenth of them limit orders, some cancelled), venue latencies 0, 5% venue failures,
two workers, one killed midway; one token launch and its sniper orders too (``--no-launch`` leaves it out).

Every order is followed over WebSockets from the moment it is accepted. At the end the run reconciles
what clients received, and the answers to their cancels, against Postgres (`tests.support.reconcile`) and
prints orders per type and final status, every rule's count of breaches, events received vs stored,
duplicate frames. Exit 1 unless all are exact. Loopback only; bounded by --orders and --deadline-s.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import signal
import tempfile
import time
from pathlib import Path

import httpx
import sqlalchemy as sa

from orders_shared.models import events_table
from soak.launch import LaunchPlan, LaunchRun, after_open, launch_and_snipe
from soak.mix import CONNECTIONS, Mix, submit_all
from soak.report import Run, print_report
from soak.watcher import Watcher
from tests.support.infra import reader_engine, throwaway_database, throwaway_vhost
from tests.support.reconcile import Reconciliation, reconcile, reconcile_pools
from tests.support.services import Service, start_service, started_stack, until_ready


def _settings(database_url: str, amqp_url: str) -> dict[str, str]:
    """The services' environment: venues fast but failing 5% of the time, the API open and unlimited."""
    return {
        "DATABASE_URL": database_url,
        "AMQP_URL": amqp_url,
        "LOG_LEVEL": "warning",
        "VENUE_QUOTE_LATENCY_MS": "0",
        "VENUE_EXECUTE_LATENCY_MS": "0",
        "VENUE_FAILURE_RATE": "0.05",
        "RETRY_BASE_DELAY_MS": "100",
        "WORKER_CONCURRENCY": "32",
        "WS_SEND_QUEUE": "10000",
        "AUTH_REQUIRED": "false",
        "RATE_LIMIT_ORDERS_PER_S": "100000",
        "RATE_LIMIT_ORDERS_BURST": "100000",
        "RATE_LIMIT_READS_PER_S": "100000",
        "RATE_LIMIT_READS_BURST": "100000",
        "WS_MAX_SUBSCRIPTIONS": "100000",
        "WS_MAX_MESSAGES_PER_S": "1000",
    }


async def run_orders(
    env: dict[str, str], log_dir: Path, orders: int, mix: Mix, deadline_s: float, plan: LaunchPlan | None
) -> Run:
    """Two workers; submit and follow every order, killing worker 1 halfway; wait until all have ended."""
    async with started_stack(env, log_dir, names=("api", "notifier", "worker")) as stack:
        second = start_service("worker", env, log_dir)
        replacement: list[Service] = []
        try:
            await until_ready(second)
            watcher = Watcher(stack.ws, sockets=10)
            await watcher.start()

            def kill_a_worker() -> None:
                stack.services["worker"].process.send_signal(signal.SIGKILL)
                print("killed worker 1 (kill -9) at the halfway mark; starting another", flush=True)
                replacement.append(start_service("worker", env, log_dir))

            limits = httpx.Limits(max_connections=CONNECTIONS)
            async with (
                httpx.AsyncClient(base_url=stack.api, timeout=30, limits=limits) as client,
                httpx.AsyncClient(base_url=stack.api, timeout=30, limits=limits) as canceller,
            ):
                started = time.monotonic()
                launch: LaunchRun | None = None
                if plan is not None:
                    launch = await launch_and_snipe(client, env["DATABASE_URL"], watcher, plan)
                sent = await submit_all(client, canceller, watcher, mix, orders, on_half=kill_a_worker)
                accepted_s = time.monotonic() - started
                await watcher.until_all_final(deadline_s)
                finished_s = time.monotonic() - started
                if plan is not None and launch is not None:
                    await after_open(client, plan, launch)
            await watcher.close()
        finally:
            # Workers started here are not the stack's: stop them whatever happened, or they outlive us.
            for worker in (second, *replacement):
                worker.stop()
    return Run(sent, launch, accepted_s, finished_s, watcher)


async def _stored(database_url: str, run: Run) -> tuple[Reconciliation, int]:
    """What Postgres holds: the reconciliation of every order sent, and the events stored."""
    engine = reader_engine(database_url)
    cancels = dict(run.sent.cancels)
    snipers = run.launch.snipers if run.launch else []
    if run.launch:
        cancels.update(run.launch.cancels)
    try:
        result = await reconcile(engine, run.sent.ids, cancels=cancels, snipers=snipers)
        # The database is the run's own: every pool write and ledger entry in it is the run's.
        pool_problems, result.pool_writes = await reconcile_pools(engine)
        result.problems.extend(pool_problems)
        async with engine.connect() as conn:
            stored = int(
                (await conn.execute(sa.select(sa.func.count()).select_from(events_table))).scalar_one()
            )
    finally:
        await engine.dispose()
    return result, stored


async def soak(args: argparse.Namespace, log_dir: Path) -> bool:
    """Run the soak and print the reconciliation; True when it is exact."""
    mix = Mix(random.Random(args.seed), args.limit_share, args.cancel_share)
    plan = LaunchPlan() if args.launch else None
    with throwaway_database("orders_soak") as database_url, throwaway_vhost("orders-soak") as amqp_url:
        env = _settings(database_url, amqp_url)
        run = await run_orders(env, log_dir, args.orders, mix, args.deadline_s, plan)
        result, stored = await _stored(database_url, run)
    return print_report(run, result, stored)


def main() -> None:
    """Parse the bounds and run."""
    parser = argparse.ArgumentParser(prog="python -m soak", description=__doc__)
    parser.add_argument("--orders", type=int, default=10_000, help="orders to send (default 10,000)")
    parser.add_argument("--deadline-s", type=float, default=600, help="wait at most this for all to end")
    parser.add_argument("--limit-share", type=float, default=0.1, help="share of limit orders (0.1)")
    parser.add_argument("--cancel-share", type=float, default=0.3, help="share of them cancelled (0.3)")
    parser.add_argument("--seed", type=int, default=14, help="the mix's random seed")
    parser.add_argument(
        "--launch",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="launch a token a few seconds in and send sniper orders for it (default: on)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="soak-") as logs:
        ok = asyncio.run(soak(args, Path(logs)))
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
