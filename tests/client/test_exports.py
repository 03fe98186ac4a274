"""The client's public names: everything in `__all__` exists, and nothing public is left out of it."""

from __future__ import annotations

import orders_client


def test_all_lists_exactly_the_public_names() -> None:
    public = {name for name in dir(orders_client) if not name.startswith("_")}
    public -= {"annotations", "display", "cli"}  # submodules and the __future__ import
    assert set(orders_client.__all__) == public
