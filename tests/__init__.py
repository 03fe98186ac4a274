"""The order engine's tests."""
