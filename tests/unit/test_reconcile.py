"""The reconciliation's rules (`tests/support/reconcile.py`), on hand-built histories: the soak and the fault
tests trust it to reject what breaks a guarantee, so each rule is shown rejecting a history that breaks it
and accepting the one that keeps it."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from orders_shared.status import Status, is_legal
from tests.support.reconcile import (
    CancelAnswer,
    Event,
    Execution,
    History,
    Rule,
    judge,
    judge_cancel,
    judge_pools,
    judge_snipers,
)

T0 = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
MARKET_PATH = ("pending", "routing", "building", "submitted", "confirmed")
LIMIT_PATH = ("pending", "open", "routing", "routing", "building", "submitted", "confirmed")


def history(
    statuses: tuple[str, ...],
    *,
    type: str = "market",
    amount_in: str = "0.5",
    amount_out: str | None = "75",
    limit_price: str | None = None,
    executions: int | None = None,
    details: dict[int, dict[str, Any]] | None = None,
    seqs: list[int] | None = None,
    attempt: int = 1,
    at: datetime = T0,
) -> History:
    """An order whose events have ``statuses``; confirmed ones get a matching ledger entry and event."""
    order_id = uuid.uuid4()
    confirmed = statuses[-1] == "confirmed"
    out = Decimal(amount_out) if confirmed and amount_out is not None else None
    details = dict(details or {})
    if confirmed:
        details.setdefault(len(statuses), {"amountOut": str(out), "txHash": "sig"})
    numbers = seqs or list(range(1, len(statuses) + 1))
    events = tuple(
        Event(seq, status, details.get(seq, {}), at) for seq, status in zip(numbers, statuses, strict=True)
    )
    count = (1 if confirmed else 0) if executions is None else executions
    ledger = tuple(Execution(Decimal(amount_in), out or Decimal(1), "sig", at) for _ in range(count))
    return History(
        order_id=order_id,
        type=type,
        status=statuses[-1],
        last_seq=len(statuses),
        amount_in=Decimal(amount_in),
        events=events,
        executions=ledger,
        amount_out=out,
        tx_hash="sig" if confirmed else None,
        limit_price=Decimal(limit_price) if limit_price else None,
        attempt=attempt,
    )


def rules(h: History, **kwargs: Any) -> set[Rule]:
    """The rules ``h`` breaks."""
    return {p.rule for p in judge(h, **kwargs)}


@pytest.mark.parametrize(
    ("statuses", "type_"),
    [
        (MARKET_PATH, "market"),
        (("pending", "routing", "failed"), "market"),
        (LIMIT_PATH, "limit"),
        (("pending", "open", "cancelled"), "limit"),
        (("pending", "open", "expired"), "limit"),
        (("pending", "open", "routing", "failed"), "limit"),
        (("pending", "open", "routing", "building", "submitted", "confirmed"), "sniper"),
    ],
)
def test_lawful_histories_are_accepted(statuses: tuple[str, ...], type_: str) -> None:
    assert judge(history(statuses, type=type_, limit_price="100")) == []


def test_an_order_still_waiting_or_working_is_not_final() -> None:
    assert rules(history(("pending", "open"), type="limit")) == {Rule.NOT_FINAL}
    assert rules(history(("pending", "routing", "building"))) == {Rule.NOT_FINAL}


def test_a_seq_gap_or_a_repeated_seq_is_rejected() -> None:
    assert Rule.SEQ_GAP in rules(history(("pending", "routing", "failed"), seqs=[1, 3, 4]))
    assert Rule.SEQ_GAP in rules(history(("pending", "routing", "failed"), seqs=[1, 2, 2]))


@pytest.mark.parametrize(
    ("statuses", "type_"),
    [
        (("routing", "building", "submitted", "confirmed"), "market"),  # no pending first
        (("pending", "building", "submitted", "confirmed"), "market"),  # skips routing: not in the table
        (("pending", "open", "cancelled"), "market"),  # a market order never waits
        (("pending", "routing", "building", "submitted", "confirmed"), "limit"),  # routed before open
        (("pending", "open", "routing", "cancelled"), "limit"),  # cancelled after it fired
        (("pending", "open", "routing", "expired"), "limit"),  # expired after it fired
        (("pending", "open", "cancelled", "expired"), "limit"),  # two final statuses
        (("pending", "open", "routing", "failed", "routing"), "limit"),  # goes on after a final status
        (("pending", "open", "routing", "routing", "open", "expired"), "limit"),  # back to open from routing
    ],
)
def test_unlawful_streams_are_rejected(statuses: tuple[str, ...], type_: str) -> None:
    assert Rule.STREAM in rules(history(statuses, type=type_, limit_price="100"))


def test_the_last_event_must_be_the_orders_status() -> None:
    h = history(("pending", "open", "expired"), type="limit")
    lying = replace(h, status="cancelled")
    assert Rule.STREAM in rules(lying)


REOPENED = ("pending", "open", "routing", "building", "submitted", "open", "expired")


def test_a_limit_order_back_in_open_after_missing_its_price_follows_the_table() -> None:
    missed = {6: {"missedPrice": "99.5", "limitPrice": "100"}}
    found = rules(history(REOPENED, type="limit", limit_price="100", details=missed))
    # Lawful because the table allows submitted -> open (a limit order's re-open).
    assert is_legal(Status.SUBMITTED, Status.OPEN)
    assert found == set()


@pytest.mark.parametrize(
    ("type_", "detail"),
    [
        ("limit", {}),  # says nothing of the price it missed
        ("limit", {"missedPrice": "100.5", "limitPrice": "100"}),  # the swap would have paid enough
        ("market", {"missedPrice": "99", "limitPrice": "100"}),  # only a limit order goes back to open
        ("sniper", {"missedPrice": "99", "limitPrice": "100"}),
    ],
)
def test_a_reopen_that_does_not_say_or_does_not_miss_is_rejected(type_: str, detail: dict[str, Any]) -> None:
    assert Rule.STREAM in rules(history(REOPENED, type=type_, limit_price="100", details={6: detail}))


def test_two_executions_of_one_order_are_rejected() -> None:
    assert rules(history(MARKET_PATH, executions=2)) == {Rule.EXECUTED_TWICE}


def test_confirmed_without_execution_and_executed_without_confirmation_are_rejected() -> None:
    assert rules(history(MARKET_PATH, executions=0)) == {Rule.CONFIRMED_WITHOUT_EXECUTION}
    assert rules(history(("pending", "routing", "failed"), executions=1)) == {Rule.EXECUTED_NOT_CONFIRMED}
    expired = history(("pending", "open", "expired"), type="limit", executions=1)
    assert rules(expired) == {Rule.EXECUTED_NOT_CONFIRMED}


def test_a_ledger_entry_that_disagrees_with_the_order_is_rejected() -> None:
    h = history(MARKET_PATH)
    other = Execution(h.amount_in, Decimal("74.9"), "sig", T0)
    assert rules(replace(h, executions=(other,))) == {Rule.LEDGER}
    resigned = Execution(h.amount_in, Decimal(75), "another", T0)
    assert rules(replace(h, executions=(resigned,))) == {Rule.LEDGER}


def test_a_confirmed_limit_order_must_receive_amount_in_times_limit_price() -> None:
    at_limit = history(LIMIT_PATH, type="limit", amount_in="0.5", amount_out="75", limit_price="150")
    assert judge(at_limit) == []
    below = history(LIMIT_PATH, type="limit", amount_in="0.5", amount_out="74.999999", limit_price="150")
    assert rules(below) == {Rule.BELOW_LIMIT}


def test_a_confirmed_sniper_must_pay_at_most_its_max_price() -> None:
    path = ("pending", "open", "routing", "building", "submitted", "confirmed")
    sniper = history(path, type="sniper", amount_in="1", amount_out="10000")  # 0.0001 SOL per token
    assert judge(sniper, max_price=Decimal("0.0001")) == []
    assert judge(sniper, max_price=None) == []
    assert rules(sniper, max_price=Decimal("0.00009")) == {Rule.ABOVE_MAX_PRICE}


@pytest.mark.parametrize(
    ("answer", "final", "lawful"),
    [
        (CancelAnswer(200, "cancelled"), ("pending", "open", "cancelled"), True),
        (CancelAnswer(409), LIMIT_PATH, True),
        (CancelAnswer(409), ("pending", "open", "expired"), True),
        (CancelAnswer(200, "cancelled"), LIMIT_PATH, False),  # told cancelled, yet it filled
        (CancelAnswer(409), ("pending", "open", "cancelled"), False),  # told too late, yet it cancelled
        (CancelAnswer(200, "open"), ("pending", "open", "cancelled"), False),  # a 200 must show it cancelled
        (CancelAnswer(500), ("pending", "open", "expired"), False),
    ],
)
def test_a_cancel_answer_must_match_how_the_order_ended(
    answer: CancelAnswer, final: tuple[str, ...], lawful: bool
) -> None:
    assert (judge_cancel(history(final, type="limit", limit_price="100"), answer) == []) == lawful


SNIPED = ("pending", "open", "routing", "building", "submitted", "confirmed")


def sniper(amount_out: str, *, at: datetime = T0, attempt: int = 1) -> History:
    """A sniper that paid 1 SOL for ``amount_out`` tokens in the turn at ``at``."""
    return history(SNIPED, type="sniper", amount_in="1", amount_out=amount_out, at=at, attempt=attempt)


def test_snipers_landing_in_one_turn_in_submission_order_at_rising_prices_are_accepted() -> None:
    assert judge_snipers([sniper("9900"), sniper("9800"), sniper("9700")]) == []


def test_a_sniper_paying_no_more_than_one_sent_before_it_is_rejected() -> None:
    problems = judge_snipers([sniper("9900"), sniper("9700"), sniper("9800")])
    assert [p.rule for p in problems] == [Rule.SNIPER_ORDER]


def test_snipers_of_one_launch_landing_in_two_turns_are_rejected() -> None:
    later = T0 + timedelta(milliseconds=400)
    assert [p.rule for p in judge_snipers([sniper("9900"), sniper("9800", at=later)])] == [Rule.SNIPER_ORDER]


def test_a_retried_or_failed_sniper_is_left_out_of_the_order() -> None:
    retried = sniper("9950", at=T0 + timedelta(seconds=2), attempt=2)  # landed later, after a venue fault
    failed = history(("pending", "open", "routing", "failed"), type="sniper")
    assert judge_snipers([sniper("9900"), retried, failed, sniper("9800")]) == []


def test_pools_written_once_per_turn_of_ledger_entries_balance() -> None:
    assert (
        judge_pools({"SOL/USDC": 120, "SOL/USDT": 7}, {"SOL/USDC": 120, "SOL/USDT": 7, "USDT/USDC": 0}) == []
    )


def test_pools_written_without_a_ledger_turn_or_a_turn_that_never_wrote_them_are_rejected() -> None:
    moved_unrecorded = judge_pools({"SOL/USDC": 120}, {"SOL/USDC": 121})
    recorded_unmoved = judge_pools({"SOL/USDC": 120, "SOAK/SOL": 1}, {"SOL/USDC": 120, "SOAK/SOL": 0})
    assert [p.rule for p in moved_unrecorded + recorded_unmoved] == [Rule.POOLS, Rule.POOLS]
