"""Reconciliation of orders against their events and the executions ledger, straight from Postgres.

Each order's history (its row, its events, its ledger entries) is judged on its own by `judge`, a pure
function the unit tests feed hand-built histories; `reconcile` loads the histories of a set of orders and
adds the rules that need what a client saw: the answers to its cancels, and the order it sent snipers in.

The rules, each a `Rule`:

- every order is there, ends in a final status (confirmed, failed, cancelled, expired), and its events
  have seqs 1..last_seq, each once, starting with `pending` and ending with the order's status;
- every step is in the transition table; a market order never waits (`open`, `cancelled`, `expired`);
  a limit or sniper order is `open` before anything else, is cancelled or expires only from `open`, and
  goes back to `open` only from `submitted`, a limit order that missed its price (saying which);
- at most one execution per order, and one exactly when it is confirmed; the ledger entry, the order and
  its `confirmed` event agree on amounts and signature;
- a confirmed limit order received at least amountIn x limitPrice; a confirmed sniper paid at most its
  maxPrice (tokenIn per tokenOut);
- a cancel answered 200 (with the order `cancelled`) means the order ended cancelled, a 409 that it did not;
- the snipers of one launch that landed on their first attempt landed in one turn, in the order they were
  sent, each at a higher price than the one before.
"""

from __future__ import annotations

import itertools
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from orders_shared.models import events_table, executions_table, orders_table, pools_table
from orders_shared.status import TERMINAL, Status, is_legal

FINAL = frozenset(s.value for s in TERMINAL)
WAITING_TYPES = frozenset({"limit", "sniper"})
_LEFT_OPEN = frozenset({Status.CANCELLED.value, Status.EXPIRED.value})
_KNOWN = frozenset(s.value for s in Status)


class Rule(StrEnum):
    """What a history can break; a clean run breaks none."""

    MISSING = "missing"
    NOT_FINAL = "not_final"
    SEQ_GAP = "seq_gap"
    STREAM = "stream"
    EXECUTED_TWICE = "executed_twice"
    CONFIRMED_WITHOUT_EXECUTION = "confirmed_without_execution"
    EXECUTED_NOT_CONFIRMED = "executed_not_confirmed"
    LEDGER = "ledger"
    BELOW_LIMIT = "below_limit"
    ABOVE_MAX_PRICE = "above_max_price"
    CANCEL = "cancel"
    SNIPER_ORDER = "sniper_order"
    POOLS = "pools"


@dataclass(frozen=True, slots=True)
class Event:
    """One row of `order_events`."""

    seq: int
    status: str
    detail: Mapping[str, Any] = field(default_factory=dict)
    created_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Execution:
    """One row of `executions`, the simulated chain's ledger."""

    amount_in: Decimal
    amount_out: Decimal
    signature: str
    executed_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class History:
    """An order as Postgres holds it: its row's facts, its events in seq order, its ledger entries."""

    order_id: uuid.UUID
    type: str
    status: str
    last_seq: int
    amount_in: Decimal
    events: tuple[Event, ...]
    executions: tuple[Execution, ...] = ()
    amount_out: Decimal | None = None
    tx_hash: str | None = None
    limit_price: Decimal | None = None
    expires_at: datetime | None = None
    attempt: int = 1
    failure_code: str | None = None


@dataclass(frozen=True, slots=True)
class Problem:
    """A rule an order broke, and how."""

    order_id: uuid.UUID | None
    rule: Rule
    why: str


def _decimal(value: object) -> Decimal | None:
    try:
        return Decimal(str(value)) if value is not None else None
    except InvalidOperation:
        return None


def _stream_problems(h: History) -> Iterable[str]:
    """How the order's events break the stream rules (seqs aside)."""
    statuses = [e.status for e in h.events]
    if not statuses:
        yield "no events"
        return
    if statuses[0] != Status.PENDING.value:
        yield f"starts with {statuses[0]}, not pending"
    if statuses[-1] != h.status:
        yield f"the last event is {statuses[-1]}, the order {h.status}"
    for before, after in itertools.pairwise(h.events):
        if before.status not in _KNOWN or after.status not in _KNOWN:
            yield f"unknown status at seq {after.seq}"
            continue
        if not is_legal(Status(before.status), Status(after.status)):
            yield f"{before.status} -> {after.status} at seq {after.seq} is not in the transition table"
        if after.status in _LEFT_OPEN and before.status != Status.OPEN.value:
            yield f"{after.status} from {before.status} at seq {after.seq}, not from open"
        if after.status == Status.OPEN.value and after.seq > 2:
            yield from _reopen_problems(h, before, after)
    if h.type in WAITING_TYPES:
        if len(statuses) > 1 and statuses[1] != Status.OPEN.value:
            yield f"a {h.type} order went {statuses[1]} before open"
    elif set(statuses) & (_LEFT_OPEN | {Status.OPEN.value}):
        yield f"a {h.type} order waited: {statuses}"


def _reopen_problems(h: History, before: Event, after: Event) -> Iterable[str]:
    """A fired limit order back in `open`: only from `submitted`, saying the price it missed."""
    if h.type != "limit":
        yield f"a {h.type} order went back to open at seq {after.seq}"
    if before.status != Status.SUBMITTED.value:
        yield f"back to open from {before.status} at seq {after.seq}, not from submitted"
    missed = _decimal(after.detail.get("missedPrice"))
    limit = _decimal(after.detail.get("limitPrice"))
    if missed is None or limit is None:
        yield f"back to open at seq {after.seq} without missedPrice and limitPrice"
    elif not missed < limit:
        yield f"back to open at seq {after.seq} though it would have paid {missed}, its limit {limit}"


def _ledger_problems(h: History) -> Iterable[tuple[Rule, str]]:
    """One execution iff confirmed, and the ledger, the order and its `confirmed` event agree."""
    count = len(h.executions)
    confirmed = h.status == Status.CONFIRMED.value
    if count > 1:
        yield Rule.EXECUTED_TWICE, f"{count} executions"
    if confirmed and count == 0:
        yield Rule.CONFIRMED_WITHOUT_EXECUTION, "confirmed with no execution"
    if not confirmed and count:
        yield Rule.EXECUTED_NOT_CONFIRMED, f"{h.status} with {count} execution(s)"
    if not (confirmed and count == 1):
        return
    execution = h.executions[0]
    if execution.amount_in != h.amount_in:
        yield Rule.LEDGER, f"the ledger swapped {execution.amount_in}, the order {h.amount_in}"
    if execution.amount_out != h.amount_out:
        yield Rule.LEDGER, f"the ledger paid {execution.amount_out}, the order says {h.amount_out}"
    if execution.signature != h.tx_hash:
        yield Rule.LEDGER, "the ledger's signature is not the order's txHash"
    said = _decimal(h.events[-1].detail.get("amountOut")) if h.events else None
    if said != h.amount_out:
        yield Rule.LEDGER, f"the confirmed event says {said}, the order {h.amount_out}"


def judge(h: History, *, max_price: Decimal | None = None) -> list[Problem]:
    """Every rule ``h`` breaks on its own; ``max_price``: the maxPrice its client sent, for a sniper."""
    found: list[tuple[Rule, str]] = []
    if h.status not in FINAL:
        found.append((Rule.NOT_FINAL, f"ended {h.status}"))
    seqs = [e.seq for e in h.events]
    if seqs != list(range(1, h.last_seq + 1)):
        found.append((Rule.SEQ_GAP, f"seqs {seqs[:3]}…{seqs[-3:]} for last_seq {h.last_seq}"))
    found.extend((Rule.STREAM, why) for why in _stream_problems(h))
    found.extend(_ledger_problems(h))
    if h.status == Status.CONFIRMED.value and h.amount_out is not None:
        if h.type == "limit" and (h.limit_price is None or h.amount_out < h.amount_in * h.limit_price):
            found.append((Rule.BELOW_LIMIT, f"received {h.amount_out} for {h.amount_in} at {h.limit_price}"))
        if h.type == "sniper" and max_price is not None and h.amount_in > h.amount_out * max_price:
            paid = h.amount_in / h.amount_out
            found.append((Rule.ABOVE_MAX_PRICE, f"paid {paid:.12g} per token, its maxPrice {max_price}"))
    return [Problem(h.order_id, rule, why) for rule, why in found]


@dataclass(frozen=True, slots=True)
class CancelAnswer:
    """What the api answered the first DELETE of an order: its code and, on 200, the status it showed."""

    code: int
    status: str | None = None


def judge_cancel(h: History, answer: CancelAnswer) -> list[Problem]:
    """A 200 (showing `cancelled`) means the order ended cancelled; a 409 means it did not."""
    cancelled = h.status == Status.CANCELLED.value
    if answer.code == 200 and answer.status == Status.CANCELLED.value and cancelled:
        return []
    if answer.code == 409 and not cancelled:
        return []
    why = f"the cancel was answered {answer.code} ({answer.status}) and the order ended {h.status}"
    return [Problem(h.order_id, Rule.CANCEL, why)]


@dataclass(frozen=True, slots=True)
class Sniper:
    """A sniper order as its client sent it: its id and maxPrice (None when left out)."""

    order_id: uuid.UUID
    max_price: Decimal | None


def first_attempt_fills(histories: Sequence[History]) -> list[History]:
    """The orders of ``histories`` confirmed on their first attempt with their one execution, in order."""
    return [
        h
        for h in histories
        if h.status == Status.CONFIRMED.value and h.attempt == 1 and h.amount_out and len(h.executions) == 1
    ]


def judge_snipers(histories: Sequence[History]) -> list[Problem]:
    """The snipers of one launch, in the order they were sent: those that landed on their first attempt
    landed in one turn, each at a higher price (tokenIn per tokenOut) than the one sent before it."""
    landed = [(h, h.amount_out) for h in first_attempt_fills(histories) if h.amount_out]
    problems: list[Problem] = []
    turns = {h.executions[0].executed_at for h, _ in landed}
    if len(turns) > 1:
        why = f"the snipers landed in {len(turns)} turns, not one"
        problems.append(Problem(None, Rule.SNIPER_ORDER, why))
    for (earlier, earlier_out), (later, later_out) in itertools.pairwise(landed):
        # The later one pays more per token (later.in / later.out > earlier.in / earlier.out), undivided.
        if not later.amount_in * earlier_out > earlier.amount_in * later_out:
            why = f"sent after {earlier.order_id}, it paid no more per token"
            problems.append(Problem(later.order_id, Rule.SNIPER_ORDER, why))
    return problems


def judge_pools(turns: Mapping[str, int], versions: Mapping[str, int]) -> list[Problem]:
    """Every write of a pair's pools is one landing turn: the statement that writes the turn's ledger
    entries (all stamped with its transaction's time) bumps the pools' version once, and nothing else
    writes them. So each pair's version equals its count of distinct ledger times; a swap that moved the
    pools without a ledger entry, or a ledger entry whose swap never reached the pools, breaks it."""
    return [
        Problem(
            None,
            Rule.POOLS,
            f"{pair}: pools written {versions.get(pair, 0)} times, "
            f"ledger entries from {turns.get(pair, 0)} turns",
        )
        for pair in sorted({*turns, *versions})
        if turns.get(pair, 0) != versions.get(pair, 0)
    ]


async def reconcile_pools(engine: AsyncEngine) -> tuple[list[Problem], int]:
    """`judge_pools` over the whole database (for a run whose database holds only its own orders), and
    how many pool writes it balanced."""
    o, x, p = orders_table.c, executions_table.c, pools_table.c
    pair = o.route["pair"].astext
    async with engine.connect() as conn:
        turns = {
            r.pair: r.turns
            for r in await conn.execute(
                sa.select(pair.label("pair"), sa.func.count(sa.distinct(x.executed_at)).label("turns"))
                .select_from(executions_table.join(orders_table, o.id == x.order_id))
                .group_by(pair)
            )
        }
        versions = {r.pair: r.version for r in await conn.execute(sa.select(p.pair, p.version))}
    return judge_pools(turns, versions), sum(versions.values())


@dataclass
class Reconciliation:
    """What the database says about a set of orders; ``problems`` is empty for a clean run."""

    by_status: Counter[str] = field(default_factory=Counter)
    by_type: dict[str, Counter[str]] = field(default_factory=dict)
    status_of: dict[uuid.UUID, str] = field(default_factory=dict)
    failure_codes: Counter[str] = field(default_factory=Counter)
    problems: list[Problem] = field(default_factory=list)
    # Fired limit orders that went back to `open` (their swap missed the price when it landed), each once.
    reopened: int = 0
    # Pool writes balanced against the ledger's turns (set by whoever runs reconcile_pools).
    pool_writes: int = 0
    # Snipers whose landing order and turn were judged (confirmed on their first attempt).
    snipers_judged: int = 0
    # Seconds from each expired order's expiresAt to its `expired` event.
    expiry_lateness_s: list[float] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        """No rule broken by any order."""
        return not self.problems

    def count(self, rule: Rule) -> int:
        """How many times ``rule`` was broken."""
        return sum(p.rule is rule for p in self.problems)

    def orders_breaking(self, rule: Rule) -> list[uuid.UUID]:
        """The orders that broke ``rule``, each once."""
        return list(dict.fromkeys(p.order_id for p in self.problems if p.rule is rule and p.order_id))


_ORDER_COLUMNS = (
    "id", "type", "status", "last_seq", "amount_in", "amount_out", "tx_hash", "limit_price", "expires_at",
    "attempt", "failure_code",
)  # fmt: skip


async def load_histories(engine: AsyncEngine, order_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, History]:
    """The histories of the orders of ``order_ids`` that exist."""
    ids = list(order_ids)
    o, e, x = orders_table.c, events_table.c, executions_table.c
    events: dict[uuid.UUID, list[Event]] = {}
    executions: dict[uuid.UUID, list[Execution]] = {}
    async with engine.connect() as conn:
        rows = (
            await conn.execute(sa.select(*(o[name] for name in _ORDER_COLUMNS)).where(o.id.in_(ids)))
        ).all()
        for r in await conn.execute(
            sa.select(e.order_id, e.seq, e.status, e.detail, e.created_at)
            .where(e.order_id.in_(ids))
            .order_by(e.order_id, e.seq)
        ):
            events.setdefault(r.order_id, []).append(Event(r.seq, r.status, r.detail, r.created_at))
        for r in await conn.execute(
            sa.select(x.order_id, x.amount_in, x.amount_out, x.signature, x.executed_at).where(
                x.order_id.in_(ids)
            )
        ):
            executions.setdefault(r.order_id, []).append(
                Execution(r.amount_in, r.amount_out, r.signature, r.executed_at)
            )
    return {
        r.id: History(
            order_id=r.id,
            type=r.type,
            status=r.status,
            last_seq=r.last_seq,
            amount_in=r.amount_in,
            events=tuple(events.get(r.id, ())),
            executions=tuple(executions.get(r.id, ())),
            amount_out=r.amount_out,
            tx_hash=r.tx_hash,
            limit_price=r.limit_price,
            expires_at=r.expires_at,
            attempt=r.attempt,
            failure_code=r.failure_code,
        )
        for r in rows
    }


async def reconcile(
    engine: AsyncEngine,
    order_ids: Sequence[uuid.UUID],
    *,
    cancels: Mapping[uuid.UUID, CancelAnswer] | None = None,
    snipers: Sequence[Sniper] = (),
) -> Reconciliation:
    """Judge every order of ``order_ids`` (and ``snipers``, in the order sent) against every rule, with
    the answers its client got to ``cancels``."""
    sent = list(dict.fromkeys([*order_ids, *(s.order_id for s in snipers)]))
    histories = await load_histories(engine, sent)
    max_prices = {s.order_id: s.max_price for s in snipers}
    result = Reconciliation()
    for order_id in sent:
        h = histories.get(order_id)
        if h is None:
            result.problems.append(Problem(order_id, Rule.MISSING, "not in Postgres"))
            continue
        result.by_status[h.status] += 1
        result.by_type.setdefault(h.type, Counter())[h.status] += 1
        result.status_of[order_id] = h.status
        if h.status == Status.FAILED.value:
            result.failure_codes[h.failure_code or "none"] += 1
        result.problems.extend(judge(h, max_price=max_prices.get(order_id)))
        if cancels and order_id in cancels:
            result.problems.extend(judge_cancel(h, cancels[order_id]))
        if any(e.status == Status.OPEN.value for e in h.events[2:]):
            result.reopened += 1
        last = h.events[-1] if h.events else None
        if h.status == Status.EXPIRED.value and h.expires_at and last and last.created_at:
            result.expiry_lateness_s.append((last.created_at - h.expires_at).total_seconds())
    sniped = [histories[s.order_id] for s in snipers if s.order_id in histories]
    result.snipers_judged = len(first_attempt_fills(sniped))
    result.problems.extend(judge_snipers(sniped))
    return result


async def assert_all_confirmed(engine: AsyncEngine, order_ids: Sequence[uuid.UUID]) -> None:
    """Reconcile ``order_ids``: the run is clean and every one of them is confirmed."""
    result = await reconcile(engine, order_ids)
    assert result.clean, result
    assert result.by_status == {"confirmed": len(order_ids)}, result.by_status
