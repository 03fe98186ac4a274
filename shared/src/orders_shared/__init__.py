"""Shared package of the order engine: schema, contracts, settings, logging and metrics.

It holds no service logic: each service builds on these pieces.
"""
