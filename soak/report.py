"""The soak's report: what clients received, reconciled against what Postgres holds."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from soak.launch import LaunchRun
from soak.mix import Placement, Sent
from soak.watcher import Watcher
from tests.support.reconcile import Reconciliation, Rule

SHOWN_PROBLEMS = 10


@dataclass
class Run:
    """What the clients saw: the orders sent and their answers, when, and every frame received."""

    sent: Sent
    launch: LaunchRun | None
    accepted_s: float
    finished_s: float
    watcher: Watcher


def _counts(counter: Counter[str]) -> dict[str, int]:
    return dict(sorted(counter.items()))


def print_report(run: Run, result: Reconciliation, stored: int) -> bool:
    """Print the reconciliation of what clients received against Postgres; True when it is exact."""
    frames = run.watcher.frames.values()
    received = sum(len(seqs) for seqs in frames)
    duplicates = sum(len(seqs) - len(set(seqs)) for seqs in frames)
    out_of_order = sum(seqs != sorted(seqs) for seqs in frames)
    sent = run.sent
    total = len(sent.ids) + (len(run.launch.snipers) if run.launch else 0)
    print(f"\nsoak: {total} orders accepted in {run.accepted_s:.1f}s, all final after {run.finished_s:.1f}s")
    for kind in sorted(result.by_type):
        print(f"  {kind + ' orders':14} by status: {_counts(result.by_type[kind])}")
    for placement in Placement:
        ended = Counter(result.status_of[i] for i, p in sent.placement.items() if p is placement)
        print(f"  limit {placement.value:10} ended : {_counts(ended)}")
    cancels = [*sent.cancels.values(), *(run.launch.cancels.values() if run.launch else ())]
    print(f"  limit back to open      : {result.reopened} (fired, missed their price at landing)")
    answers = Counter(a.code for a in cancels)
    print(f"  cancels answered        : {dict(sorted(answers.items()))} of {len(cancels)} sent")
    late = result.expiry_lateness_s
    if late:
        print(f"  expired after expiresAt : max {max(late):.2f}s, mean {sum(late) / len(late):.2f}s")
    print(f"  failures by code        : {_counts(result.failure_codes)}")
    retries = sent.retries + (run.launch.retries if run.launch else Counter())
    print(f"  requests sent again     : {_counts(retries)}")
    print(f"  orders with a seq gap   : {result.count(Rule.SEQ_GAP)}")
    print(f"  orders not final        : {result.count(Rule.NOT_FINAL) + result.count(Rule.MISSING)}")
    print(f"  unlawful streams        : {len(result.orders_breaking(Rule.STREAM))}")
    print(f"  executions per order > 1: {result.count(Rule.EXECUTED_TWICE)}")
    print(f"  confirmed w/o execution : {result.count(Rule.CONFIRMED_WITHOUT_EXECUTION)}")
    print(f"  executed, not confirmed : {result.count(Rule.EXECUTED_NOT_CONFIRMED)}")
    print(f"  ledger disagreements    : {len(result.orders_breaking(Rule.LEDGER))}")
    pools = f"{result.count(Rule.POOLS)} pairs disagree ({result.pool_writes} pool writes)"
    print(f"  pools vs ledger turns   : {pools}")
    print(f"  limit fills below price : {result.count(Rule.BELOW_LIMIT)}")
    print(f"  cancels contradicted    : {result.count(Rule.CANCEL)} (repeat not the same: "
          f"{len(sent.repeat_cancel_mismatches)})")  # fmt: skip
    launch_problems: list[str] = []
    if run.launch is not None:
        launch_problems = run.launch.problems
        snipers = result.count(Rule.ABOVE_MAX_PRICE) + result.count(Rule.SNIPER_ORDER)
        print(f"  snipers landed in order : {result.snipers_judged} judged (one turn, rising prices)")
        print(f"  snipers over max/order  : {snipers}")
        print(f"  launch checks failed    : {len(launch_problems)}")
    print(f"  events received / stored: {received} / {stored}")
    print(f"  duplicate frames        : {duplicates}")
    print(f"  out-of-order streams    : {out_of_order}")
    for problem in result.problems[:SHOWN_PROBLEMS]:
        print(f"    {problem.rule.value}: {problem.order_id}: {problem.why}")
    for why in launch_problems:
        print(f"    launch: {why}")
    exact = (
        result.clean
        and not sent.repeat_cancel_mismatches
        and not launch_problems
        and received == stored
        and duplicates == 0
        and out_of_order == 0
    )
    print("  reconciliation          :", "EXACT" if exact else "MISMATCH")
    return exact
