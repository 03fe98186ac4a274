"""The page's tests run against the open stack (tests/client/open_stack.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.client.open_stack import open_stack
from tests.support.services import Stack


@pytest.fixture(scope="session")
def open_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """api, worker and notifier that let anonymous callers in (AUTH_REQUIRED=false)."""
    with open_stack(tmp_path_factory.mktemp("open-stack")) as stack:
        yield stack
