"""How orders look in a terminal (rich): amounts, statuses, routes; shared by the CLI and `make demo`."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from rich.table import Table
from rich.text import Text

from orders_client._models import LIFECYCLE, OrderEvent, RouteLeg, VenueQuote

STATUS_STYLE = {
    "pending": "dim",
    "routing": "cyan",
    "building": "blue",
    "submitted": "magenta",
    "confirmed": "bold green",
    "failed": "bold red",
}


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


def event_summary(event: OrderEvent) -> str:
    """The one line that says what this step decided."""
    if event.status == "routing" and event.quotes:
        return " · ".join(f"{q.venue} {amount(q.amount_out)}" for q in event.quotes)
    if event.status == "building":
        return f"{route(event.dex_chosen, event.route)}  min out {amount(event.min_amount_out)}"
    if event.status == "submitted" and event.tx_hash:
        return f"tx {event.tx_hash[:16]}…"
    if event.status == "confirmed":
        return f"out {amount(event.amount_out)} at {amount(event.executed_price)}"
    if event.status == "failed":
        return f"{event.error_code}: {event.error}"
    return ""


def timeline(events: Sequence[OrderEvent]) -> Table:
    """The order's steps so far, the ones still to come dimmed."""
    table = Table.grid(padding=(0, 2))
    table.add_column(width=2)
    table.add_column(min_width=10)
    table.add_column(justify="right")
    table.add_column()
    seen = {e.status: e for e in events}
    first = events[0].at if events else None
    failed = seen.get("failed")
    for name in LIFECYCLE:
        event = seen.get(name)
        if event is None:
            if failed is None:
                table.add_row("·", Text(name, style="dim"), "", "")
            continue
        offset = f"+{(event.at - first).total_seconds():.2f}s" if first else ""
        table.add_row("✔", status(name), offset, event_summary(event))
    if failed is not None and first is not None:
        offset = f"+{(failed.at - first).total_seconds():.2f}s"
        table.add_row("✘", status("failed"), offset, event_summary(failed))
    return table
