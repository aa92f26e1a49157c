"""Fixtures of the order-to-cash tests: templates with a poll that settles at once."""

from __future__ import annotations

import shutil

import pytest
import yaml

from sync_workers.mapping import templates


@pytest.fixture(autouse=True)
def fast_templates(tmp_path_factory: pytest.TempPathFactory):
    """The bundled templates, with the polls' settle times at zero (records are fresh)."""
    directory = tmp_path_factory.mktemp("templates")
    for path in templates.BUNDLED_DIR.glob("*.yaml"):
        shutil.copy(path, directory / path.name)
    for flow in ("orders", "shipments", "payments", "customers"):
        path = directory / f"{flow}.yaml"
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        data["poll"] = {"overlap_seconds": 300, "settle_seconds": 0}
        path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    templates.use_templates_dir(directory)
    yield directory
    templates.use_templates_dir(None)


@pytest.fixture
def tracking_module(sandboxes, monkeypatch: pytest.MonkeyPatch):
    """The store has the tracking-number module, and the engine is configured to use it."""
    from sync_workers import clients
    from sync_workers.settings import get_settings
    from tests.flows.order_to_cash.helpers import sandbox

    sandbox(sandboxes["xcart"].url, "config", {"tracking_extension": True})
    monkeypatch.setenv("XCART_TRACKING_ENDPOINT", "true")
    get_settings.cache_clear()
    clients.close_all()
    yield
    monkeypatch.delenv("XCART_TRACKING_ENDPOINT")
    get_settings.cache_clear()
    clients.close_all()
