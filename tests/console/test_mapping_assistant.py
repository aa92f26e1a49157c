"""The mapping assistant in the console: suggestions on the mapping page and on a dead letter's
page, and an operator's accept that writes the template and gets the stopped order through,
end to end (X-Cart and Acumatica sandboxes over HTTP, Redis, the ledger, a Celery worker)."""

from __future__ import annotations

import shutil

import pytest
import yaml

from sync_workers import clients
from sync_workers.flows import runner
from sync_workers.mapping import templates
from sync_workers.task import get_dlq
from tasks import payments as payment_tasks  # noqa: F401  (registers the payment steps)
from tests.console.conftest import OPERATOR, VIEWER, sign_in
from tests.flows.order_to_cash.helpers import address, checkout, linked, wait_for

HTML = {"Accept": "text/html"}


@pytest.fixture(autouse=True)
def fresh_lists():
    """The pages read Acumatica's lists of this test's sandbox, not a previous test's."""
    from sync_workers.mapping.assistant.reference import forget_lists

    forget_lists()


@pytest.fixture
def merchant_templates(tmp_path):
    """The merchant's copy of the templates, whose ``ship_via`` has no entry for Express."""
    for path in templates.BUNDLED_DIR.glob("*.yaml"):
        shutil.copy(path, tmp_path / path.name)
    path = tmp_path / "orders.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    del data["ship_via"]["Express"]
    data["poll"] = {"overlap_seconds": 300, "settle_seconds": 0}
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    templates.use_templates_dir(tmp_path)
    yield tmp_path
    templates.use_templates_dir(None)


def _stopped_order(xcart: str) -> tuple[dict, str]:
    order = checkout(
        xcart,
        {
            "email": "express.buyer@example.com",
            "items": [{"sku": "AA-0016", "amount": 1}],
            "billing_address": address("Exa", "Mple", "NY"),
            "payment_method": "Credit Card",
            "shipping_method": "Express",
            "shipping_cost": 9.5,
        },
    )
    runner.start("orders", order["id"])

    def stopped():
        for entry in get_dlq().iter_entries(status="open", flow="orders"):
            if "unmapped shipping method 'Express'" in entry.field_errors.values():
                return entry
        return None

    return order, wait_for(stopped, timeout=60).id


def test_an_operator_accepts_a_suggestion_and_the_stopped_order_goes_through(
    client, sandboxes, clean_ledger, celery_worker, merchant_templates
) -> None:
    order, entry_id = _stopped_order(sandboxes["xcart"].url)
    before = (merchant_templates / "orders.yaml").read_text(encoding="utf-8")

    viewer = client.application.test_client()
    sign_in(viewer, VIEWER)
    page = viewer.get("/mapping", headers=HTML).text
    assert 'id="suggestions"' in page and "<code>Express</code>" in page
    assert 'class="accept"' not in page  # a viewer sees the suggestions, no button
    refused = viewer.post(
        "/mapping/accept", data={"field": "shipping_method", "value": "Express", "target": "DHL"}
    )
    assert refused.status_code == 403

    csrf = sign_in(client, OPERATOR)
    entry_page = client.get(f"/dead-letters/{entry_id}", headers=HTML).text
    assert 'id="suggestions"' in entry_page and 'class="accept"' in entry_page
    assert f'name="entry" value="{entry_id}"' in entry_page
    form = {"field": "shipping_method", "value": "Express", "target": "DHL", "entry": entry_id}
    assert client.post("/mapping/accept", data=form).status_code == 400  # no CSRF token
    assert (merchant_templates / "orders.yaml").read_text(encoding="utf-8") == before

    answer = client.post("/mapping/accept", data={**form, "csrf_token": csrf})

    assert answer.status_code == 302 and answer.headers["Location"].endswith(entry_id)
    data = yaml.safe_load((merchant_templates / "orders.yaml").read_text(encoding="utf-8"))
    assert data["ship_via"]["Express"] == "DHL"
    [previous] = (merchant_templates / "previous").glob("orders-*.yaml")
    assert previous.read_text(encoding="utf-8") == before
    assert get_dlq().get(entry_id).status == "replayed"
    [audit] = [a for a in get_dlq().audit_log(100) if a["action"] == "mapping.accept"]
    assert audit["by"] == f"console:{OPERATOR}" and audit["value"] == "Express"
    order_type, order_nbr = wait_for(lambda: linked("orders").get(str(order["id"])), 60).split("/")
    sales_order = clients.acumatica().get_by_keys("SalesOrder", order_type, order_nbr)
    assert sales_order["ShipVia"] == "DHL"
    shown = client.get(f"/dead-letters/{entry_id}", headers=HTML).text
    assert "now maps to DHL" in shown


def test_a_refused_accept_says_why_and_writes_nothing(
    client, sandboxes, redis_client, merchant_templates
) -> None:
    before = (merchant_templates / "orders.yaml").read_text(encoding="utf-8")
    csrf = sign_in(client, OPERATOR)

    answer = client.post(
        "/mapping/accept",
        data={"csrf_token": csrf, "field": "shipping_method", "value": "Hover", "target": "NOPE"},
    )

    assert answer.status_code == 302
    page = client.get("/mapping", headers=HTML).text
    assert "Not applied" in page and "not an active ship via" in page
    assert (merchant_templates / "orders.yaml").read_text(encoding="utf-8") == before
    assert not (merchant_templates / "previous").exists()
