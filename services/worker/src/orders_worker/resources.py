"""What the parts of one worker process share: its database, settings, venues, metrics, parsed pools and
catalog."""

from __future__ import annotations

from dataclasses import dataclass

from orders_shared.db import Database
from orders_shared.metrics import Metrics
from orders_shared.pools import ParsedPools
from orders_venues import Catalog
from orders_worker.settings import WorkerSettings
from orders_worker.venues.simulated import VenueLatency


@dataclass(frozen=True, slots=True)
class Resources:
    """Built once by the lifespan and handed to the route finder, the lander and the pipeline."""

    db: Database
    settings: WorkerSettings
    latency: VenueLatency
    metrics: Metrics
    # Each pair's pools as this process last parsed them, by version (parsing is most of a read's cost).
    parsed: ParsedPools
    # The tokens and pairs this process knows: the seeded ones, then each launch it learns.
    catalog: Catalog
