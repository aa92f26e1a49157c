"""A product stopped for an attribute the products template does not map: the assistant points
at the tenant's attribute definition, and once a person accepts it the product's chain is
replayed and the stock item gets the value (sandboxes over HTTP, Redis, the ledger, a Celery
worker, ``celery mapping``)."""

from __future__ import annotations

import shutil

import pytest
import yaml

import tasks.products  # noqa: F401  (registers the products chain's task)
from sync_workers import clients
from sync_workers.flows import runner
from sync_workers.mapping import templates
from sync_workers.task import get_dlq
from tests.cli.conftest import run_cli
from tests.flows.order_to_cash.helpers import wait_for


@pytest.fixture
def own_templates(tmp_path):
    for path in templates.BUNDLED_DIR.glob("*.yaml"):
        shutil.copy(path, tmp_path / path.name)
    templates.use_templates_dir(tmp_path)
    yield tmp_path
    templates.use_templates_dir(None)


def _attributes(sku: str) -> dict[str, str]:
    item = clients.acumatica().get_by_keys("StockItem", sku, expand=["Attributes"])
    return {row["AttributeID"]: row["Value"] for row in item.get("Attributes") or ()}


def test_an_unmapped_attribute_is_refused_then_written_with_the_attribute_a_person_accepted(
    sandboxes, clean_ledger, redis_client, celery_worker, own_templates
):
    acumatica = clients.acumatica()
    acumatica.put(
        "AttributeDefinition",
        {"AttributeID": "DISHWASHER", "Description": "Dishwasher safe", "ControlType": "Checkbox"},
    )
    acumatica.put("StockItem", {"InventoryID": "WEB-MUG-RED", "Description": "Mug, red"})
    runner.start("products", "WEB-MUG-RED")

    def refused():
        for entry in get_dlq().iter_entries(status="open", flow="products"):
            if "unmapped product attribute 'Dishwasher safe'" in entry.field_errors.values():
                return entry
        return None

    entry = wait_for(refused, timeout=60)
    assert _attributes("WEB-MUG-RED") == {}
    [item] = run_cli("mapping", "suggest", "--flow", "products", "--json").json
    assert (item["field"], item["value"]) == ("product_attribute", "Dishwasher safe")
    assert item["suggestions"][0]["target"] == "DISHWASHER"

    done = run_cli(
        "mapping", "accept", "product_attribute", "Dishwasher safe", "DISHWASHER", "--json"
    )

    assert done.exit_code == 0, done.output
    assert done.json["accepted"][0]["replayed"][0]["id"] == entry.id
    written = yaml.safe_load((own_templates / "products.yaml").read_text(encoding="utf-8"))
    assert written["attributes"]["map"]["Dishwasher safe"] == "DISHWASHER"
    found = wait_for(lambda: "DISHWASHER" in _attributes("WEB-MUG-RED"), timeout=60)
    assert found
    assert _attributes("WEB-MUG-RED")["COLOR"] == "RED"
