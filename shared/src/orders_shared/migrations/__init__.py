"""Alembic migrations of the order engine's schema; run them with `orders-migrate`."""
