"""The demo's live board: one row per order, the routing decisions underneath, redrawn as events arrive.

Rows may be added while it is shown (the limit orders come after the five market orders)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from orders_client import OrderEvent, RouteLeg, VenueQuote
from orders_client import display as show

VENUES = ("raydium", "meteora")


@dataclass
class Row:
    """One order as the board shows it."""

    token_in: str
    token_out: str
    amount_in: Decimal
    limit_price: Decimal | None = None  # a limit order: TOKEN_OUT per TOKEN_IN, fees included
    role: str = ""  # what the row is for in the demo, shown under the table
    order_id: str | None = None
    status: str = "submitting"
    quotes: list[VenueQuote] = field(default_factory=list)
    dex_chosen: str | None = None
    route: list[RouteLeg] = field(default_factory=list)
    executed_price: Decimal | None = None
    amount_out: Decimal | None = None
    error: str | None = None
    missed: str | None = None
    fired_at: datetime | None = None  # when a limit order left `open` for `routing` (the engine's clock)
    ended_at: datetime | None = None
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None

    @property
    def pair(self) -> str:
        """`SOL → USDC`."""
        return f"{self.token_in} → {self.token_out}"

    @property
    def label(self) -> str:
        """`3000 SOL→USDC`, and `limit 152.31` for a limit order."""
        text = f"{show.amount(self.amount_in)} {self.token_in}→{self.token_out}"
        return text if self.limit_price is None else f"{text} limit {show.significant(self.limit_price)}"

    @property
    def ended(self) -> bool:
        """Whether it has reached an end (or the demo gave up on it)."""
        return self.finished is not None

    @property
    def elapsed(self) -> float:
        """Seconds since it was submitted, frozen when it ends."""
        return (self.finished or time.monotonic()) - self.started

    def apply(self, event: OrderEvent) -> None:
        """Take what an event says."""
        if event.status == "routing" and self.status in ("open", "open again"):
            self.fired_at = event.at
        self.status = event.status
        if event.quotes:
            self.quotes = event.quotes
        if event.dex_chosen:
            self.dex_chosen = event.dex_chosen
        if event.route:
            self.route = event.route
        if event.executed_price is not None:
            self.executed_price = event.executed_price
        if event.amount_out is not None:
            self.amount_out = event.amount_out
        if event.error:
            self.error = f"{event.error_code}: {event.error}"
        if event.missed:
            self.status = "open again"
            self.missed = (
                f"missed its price: {show.amount(event.missed_price)} < {show.amount(event.limit_price)}"
            )
        if event.terminal:
            self.finished, self.ended_at = time.monotonic(), event.at

    def decision(self) -> str | None:
        """Why the router chose what it chose: both quotes, the choice, and what it gains."""
        if not self.quotes or not self.dex_chosen or not self.route:
            return None
        quotes = " vs ".join(f"{q.venue} {show.amount(q.amount_out)}" for q in self.quotes)
        expected = sum((leg.expected_amount_out for leg in self.route), Decimal(0))
        best = max(self.quotes, key=lambda q: q.amount_out)
        others = [q for q in self.quotes if q.venue != self.dex_chosen]
        if self.dex_chosen == "split":
            base, than = best.amount_out, f"best single venue ({best.venue})"
        elif others:
            base, than = others[0].amount_out, others[0].venue
        else:
            return f"{quotes} → {self.dex_chosen} (the only venue that answered)"
        gain = (expected - base) / base * 100 if base else Decimal(0)
        return (
            f"{quotes} → {show.route(self.dex_chosen, self.route)}: "
            f"{show.amount(expected)} {self.token_out}, {gain:+.2f}% over {than}"
        )


@dataclass
class Board:
    """Every row, rendered fresh on each refresh of the live display."""

    rows: list[Row]
    title: str = "5 concurrent orders"
    notes: list[str] = field(default_factory=list)

    def __rich__(self) -> RenderableType:
        table = Table(title=self.title, title_justify="left", header_style="bold", padding=(0, 1))
        table.add_column("#", justify="right", no_wrap=True, min_width=1)
        table.add_column("order", no_wrap=True)
        table.add_column("status", no_wrap=True)
        table.add_column("route", no_wrap=True)
        for venue in VENUES:
            table.add_column(venue, justify="right", no_wrap=True)
        table.add_column("price", justify="right", no_wrap=True)
        table.add_column("out", justify="right", no_wrap=True)
        table.add_column("time", justify="right", no_wrap=True, min_width=5)
        for n, row in enumerate(self.rows, 1):
            table.add_row(
                str(n),
                row.label,
                show.status(row.status),
                show.route_short(row.dex_chosen, row.route),
                *(show.significant(show.quote_of(row.quotes, venue)) for venue in VENUES),
                show.significant(row.executed_price),
                show.significant(row.amount_out),
                f"{row.elapsed:.1f}s",
            )
        table.caption = "raydium, meteora: each venue's quote for the whole order, in the token bought"
        lines = [Text("routing decisions", style="bold")]
        for n, row in enumerate(self.rows, 1):
            if row.role:
                lines.append(Text(f"#{n} {row.label}: {row.role}", style="yellow"))
            decided = row.decision()
            if decided:
                lines.append(Text(f"#{n} {show.amount(row.amount_in)} {row.pair}: {decided}"))
            if row.missed:
                lines.append(Text(f"#{n} {row.missed}; waiting again", style="yellow"))
            if row.error:
                lines.append(Text(f"#{n} {row.status}: {row.error}", style="red"))
        lines.extend(Text(note) for note in self.notes)
        return Group(table, *lines)

    def summary(self, rows: list[Row] | None = None) -> str:
        """How many of ``rows`` (default: all) confirmed, how fast, on which venues."""
        rows = self.rows if rows is None else rows
        confirmed = [r for r in rows if r.status == "confirmed"]
        venues: dict[str, int] = {}
        for row in confirmed:
            key = row.dex_chosen or "?"
            venues[key] = venues.get(key, 0) + 1
        spread = ", ".join(f"{venue} {count}" for venue, count in sorted(venues.items()))
        slowest = max((r.elapsed for r in rows), default=0.0)
        return f"{len(confirmed)}/{len(rows)} confirmed in {slowest:.1f} s ({spread or 'none'})"
