"""How orders look in a terminal (rich): amounts, statuses, routes; shared by the CLI and `make demo`."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from rich.table import Table
from rich.text import Text

from orders_client._models import LIFECYCLE, TERMINAL, WAITING_LIFECYCLE, OrderEvent, RouteLeg, VenueQuote

STATUS_STYLE = {
    "pending": "dim",
    "open": "yellow",
    "routing": "cyan",
    "building": "blue",
    "submitted": "magenta",
    "confirmed": "bold green",
    "failed": "bold red",
    "cancelled": "bold yellow",
    "expired": "bold yellow",
}
# The mark of each row of a timeline: a step done, a failure, a wait that ended unfilled, a missed price.
_MARK = {"failed": "✘", "cancelled": "■", "expired": "■"}
MISSED_MARK = "↺"


def amount(value: Decimal | None, places: int = 6) -> str:
    """A readable amount: thousands separated, at most ``places`` decimals (more for tiny values)."""
    if value is None:
        return "—"
    if value == 0:
        return "0"
    if abs(value) < 1:
        places = max(places, -value.adjusted() + places - 1)
    text = f"{value:,.{places}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def significant(value: Decimal | None, digits: int = 6) -> str:
    """About ``digits`` significant digits, for tables: 393,532 · 1.64847 · 0.00663918."""
    if value is None:
        return "—"
    whole = value.adjusted() + 1 if abs(value) >= 1 else 0
    return amount(value, max(0, digits - whole))


def status(name: str) -> Text:
    """A status in its colour."""
    return Text(name, style=STATUS_STYLE.get(name, ""))


def short_id(order_id: str) -> str:
    """The first block of a UUID, enough to tell orders apart on screen."""
    return order_id.split("-")[0]


def route_short(dex_chosen: str | None, legs: Sequence[RouteLeg] | None) -> str:
    """`raydium`, `meteora`, or `split 15/85` (the legs' percents in route order)."""
    if dex_chosen == "split" and legs:
        return "split " + "/".join(str(leg.percent) for leg in legs)
    return dex_chosen or "—"


def route(dex_chosen: str | None, legs: Sequence[RouteLeg] | None) -> str:
    """`raydium`, `meteora`, or `split 10% raydium / 90% meteora`."""
    if not dex_chosen:
        return "—"
    if dex_chosen == "split" and legs:
        return "split " + " / ".join(f"{leg.percent}% {leg.venue}" for leg in legs)
    return dex_chosen


def quote_of(quotes: Sequence[VenueQuote] | None, venue: str) -> Decimal | None:
    """What ``venue`` quoted, if it answered."""
    return next((q.amount_out for q in quotes or () if q.venue == venue), None)


def quotes_table(quotes: Sequence[VenueQuote], token_out: str, best: str | None = None) -> Table:
    """Both venues' quotes side by side, the chosen one marked."""
    table = Table(title=None, show_edge=False, pad_edge=False)
    table.add_column("venue")
    table.add_column(f"amount out ({token_out})", justify="right")
    table.add_column("fee", justify="right")
    table.add_column("price impact %", justify="right")
    for q in sorted(quotes, key=lambda q: q.amount_out, reverse=True):
        mark = " ◀" if q.venue == best else ""
        table.add_row(
            q.venue + mark, amount(q.amount_out), amount(q.fee_amount), amount(q.price_impact_pct, 4)
        )
    return table


def event_summary(event: OrderEvent, previous: str | None = None) -> str:
    """The one line that says what this step decided (``previous``: the status before it, if any)."""
    if event.missed:
        return (
            f"missed its price: the swap would pay {amount(event.missed_price)}, "
            f"limit {amount(event.limit_price)}; waiting again"
        )
    if event.status == "open":
        return "waiting for its trigger"
    if event.status == "routing":
        quotes = " · ".join(f"{q.venue} {amount(q.amount_out)}" for q in event.quotes or ())
        # Out of `open`: the trigger found a route that pays the order's price.
        return (
            f"fired: {quotes}" if previous == "open" and quotes else "fired" if previous == "open" else quotes
        )
    if event.status == "building":
        return f"{route(event.dex_chosen, event.route)}  min out {amount(event.min_amount_out)}"
    if event.status == "submitted" and event.tx_hash:
        return f"tx {event.tx_hash[:16]}…"
    if event.status == "confirmed":
        return f"out {amount(event.amount_out)} at {amount(event.executed_price)}"
    if event.status == "failed":
        return f"{event.error_code}: {event.error}"
    if event.status == "cancelled":
        return "cancelled before it fired"
    if event.status == "expired":
        return "expired before it fired"
    return ""


def steps_of(events: Sequence[OrderEvent]) -> tuple[str, ...]:
    """The steps an order goes through: with `open` once it has waited for a trigger."""
    return WAITING_LIFECYCLE if any(e.status == "open" for e in events) else LIFECYCLE


def steps_to_come(events: Sequence[OrderEvent]) -> list[str]:
    """The steps after the last event (none once the order has ended)."""
    if not events:
        return list(LIFECYCLE)
    last = events[-1].status
    if last in TERMINAL:
        return []
    steps = steps_of(events)
    return list(steps[steps.index(last) + 1 :]) if last in steps else []


def timeline(events: Sequence[OrderEvent]) -> Table:
    """The order's events so far, one row each and in order (a step may come twice: a fired limit order
    routes again, and one that missed its price waits `open` again), then the steps still to come, dimmed."""
    table = Table.grid(padding=(0, 2))
    table.add_column(width=2)
    table.add_column(min_width=10)
    table.add_column(justify="right")
    table.add_column()
    first = events[0].at if events else None
    previous: str | None = None
    for event in events:
        offset = f"+{(event.at - first).total_seconds():.2f}s" if first else ""
        mark = MISSED_MARK if event.missed else _MARK.get(event.status, "✔")
        table.add_row(mark, status(event.status), offset, event_summary(event, previous))
        previous = event.status
    for name in steps_to_come(events):
        table.add_row("·", Text(name, style="dim"), "", "")
    return table
