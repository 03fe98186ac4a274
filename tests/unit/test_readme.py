"""The README stays true: every setting is in its configuration table."""

from __future__ import annotations

from pathlib import Path

import pytest

from orders_api.settings import ApiSettings
from orders_notifier.settings import NotifierSettings
from orders_worker.settings import WorkerSettings

README = Path(__file__).resolve().parents[2] / "README.md"
SETTINGS = sorted(
    {name.upper() for cls in (ApiSettings, WorkerSettings, NotifierSettings) for name in cls.model_fields}
)


@pytest.mark.parametrize("name", SETTINGS)
def test_every_setting_is_in_the_configuration_table(name: str) -> None:
    table = README.read_text().split("## Configuration", 1)[1].split("\n## ", 1)[0]
    assert f"`{name}`" in table
