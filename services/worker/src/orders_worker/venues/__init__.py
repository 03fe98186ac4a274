"""Venues the router can send an order to."""
