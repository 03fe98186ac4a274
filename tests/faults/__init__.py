"""Fault tests: processes killed, the broker and Postgres restarted; serial, bounded, self-stopping."""
