"""The venues' service behaviour: they take time to answer and sometimes fail, as the settings say."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass

from orders_shared.errors import TransientVenueError


@dataclass(slots=True)
class VenueLatency:
    """Latency and injected failures of the simulated venues' RPCs (the worker's settings say how much)."""

    rng: random.Random
    quote_latency_s: tuple[float, float]
    execute_latency_s: tuple[float, float]
    failure_rate: float

    async def _call(self, venue: str, what: str, bounds: tuple[float, float]) -> None:
        if bounds[1] > 0:
            await asyncio.sleep(self.rng.uniform(*bounds))
        if self.failure_rate and self.rng.random() < self.failure_rate:
            raise TransientVenueError(f"{venue} {what} failed (injected by VENUE_FAILURE_RATE)")

    async def quote(self, venue: str) -> None:
        """Wait as long as a quote takes; raise as often as quotes fail."""
        await self._call(venue, "quote", self.quote_latency_s)

    async def send(self, venue: str) -> None:
        """Wait as long as a swap takes to land; raise as often as sends fail."""
        await self._call(venue, "swap", self.execute_latency_s)
