"""Fixtures of the order-to-cash tests: templates with a poll that settles at once."""

from __future__ import annotations

import shutil

import pytest
import yaml

from sync_workers.mapping import templates


@pytest.fixture(autouse=True)
def fast_templates(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """The bundled templates, with the order poll's settle time at zero (orders are fresh)."""
    directory = tmp_path_factory.mktemp("templates")
    for path in templates.BUNDLED_DIR.glob("*.yaml"):
        shutil.copy(path, directory / path.name)
    orders = directory / "orders.yaml"
    data = yaml.safe_load(orders.read_text(encoding="utf-8"))
    data["poll"] = {"overlap_seconds": 300, "settle_seconds": 0}
    orders.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    monkeypatch.setenv(templates.DIR_VARIABLE, str(directory))
    templates.clear_cache()
    yield directory
    templates.clear_cache()
