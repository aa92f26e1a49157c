"""Out of the box, a taxed Québec order is refused for its tax region, the assistant points at
the tax the tenant has for Québec, and once a person accepts it the order goes through with that
tax (sandboxes over HTTP, Redis, the ledger, a Celery worker, ``celery mapping``)."""

from __future__ import annotations

import shutil

import pytest

from sync_workers import clients
from sync_workers.flows import runner
from sync_workers.mapping import templates
from sync_workers.task import get_dlq
from tasks import payments as payment_tasks  # noqa: F401  (registers the payment steps)
from tests.cli.conftest import run_cli
from tests.flows.order_to_cash.helpers import address, checkout, linked, wait_for

MONTREAL = {
    "country_code": "CA",
    "state_code": "QC",
    "street": "1 Rue Sainte-Catherine",
    "city": "Montréal",
    "zipcode": "H2X 1K4",
}


@pytest.fixture
def own_templates(tmp_path):
    for path in templates.BUNDLED_DIR.glob("*.yaml"):
        shutil.copy(path, tmp_path / path.name)
    templates.use_templates_dir(tmp_path)
    yield tmp_path
    templates.use_templates_dir(None)


def test_a_quebec_order_is_refused_then_synced_with_the_tax_a_person_accepted(
    sandboxes, clean_ledger, celery_worker, own_templates
):
    order = checkout(
        sandboxes["xcart"].url,
        {
            "email": "quebec.buyer@example.com",
            "items": [{"sku": "AA-0016", "amount": 2}],
            "billing_address": address("Élise", "Tremblay", **MONTREAL),
            "payment_method": "Credit Card",
        },
    )
    assert any(s["type"] == "tax" for s in order["surcharges"])
    runner.start("orders", order["id"])

    def refused():
        for entry in get_dlq().iter_entries(status="open", flow="orders"):
            if "unmapped tax region 'CA-QC'" in entry.field_errors.values():
                return entry
        return None

    entry = wait_for(refused, timeout=60)
    [item] = run_cli("mapping", "suggest", "--json").json
    assert (item["field"], item["value"]) == ("tax_region", "CA-QC")
    best = item["suggestions"][0]
    assert best["target"] == "QCGSTQST" and not best["confident"]  # a person decides
    assert any("starts with QC" in line for line in best["evidence"])
    nothing = run_cli("mapping", "accept", "--confident", "--json")
    assert nothing.json["accepted"] == [] and get_dlq().get(entry.id).status == "open"

    done = run_cli("mapping", "accept", "tax_region", "CA-QC", "QCGSTQST", "--json")

    assert done.exit_code == 0, done.output
    assert done.json["accepted"][0]["replayed"][0]["id"] == entry.id
    order_type, order_nbr = wait_for(lambda: linked("orders").get(str(order["id"])), 60).split("/")
    sales_order = clients.acumatica().get_by_keys(
        "SalesOrder", order_type, order_nbr, expand=["TaxDetails"]
    )
    [tax] = sales_order["TaxDetails"]
    tax_surcharge = sum(s["value"] for s in order["surcharges"] if s["type"] == "tax")
    assert tax["TaxID"] == "QCGSTQST" and tax["TaxAmount"] == pytest.approx(tax_surcharge)
