"""The venues as services: latency and injected failures (their math lives in orders_venues)."""
