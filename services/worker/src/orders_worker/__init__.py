"""The order engine's worker: routes orders across the simulated venues and executes them."""
