"""Records resolved by hand weigh in: a stopped order whose sales order a person keyed in
Acumatica with a ShipVia is a vote for that code (sandboxes over HTTP, the test Redis)."""

from __future__ import annotations

import shutil
import uuid

import pytest
import yaml

from sync_workers import clients
from sync_workers.dlq import DeadLetter
from sync_workers.errors import PermanentError
from sync_workers.mapping import orders as order_map
from sync_workers.mapping import templates
from sync_workers.mapping.assistant.suggest import open_items
from sync_workers.task import get_dlq
from tests.flows.order_to_cash.helpers import address, checkout


@pytest.fixture
def without_express(tmp_path):
    for path in templates.BUNDLED_DIR.glob("*.yaml"):
        shutil.copy(path, tmp_path / path.name)
    path = tmp_path / "orders.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    del data["ship_via"]["Express"]
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    templates.use_templates_dir(tmp_path)
    yield tmp_path
    templates.use_templates_dir(None)


def _stopped(xcart: str, n: int) -> dict:
    order = checkout(
        xcart,
        {
            "email": f"express.{n}@example.com",
            "items": [{"sku": "AA-0016", "amount": 1}],
            "billing_address": address("Exa", "Mple", "NY"),
            "payment_method": "Credit Card",
            "shipping_method": "Express",
        },
    )
    with pytest.raises(PermanentError) as refused:
        order_map.ship_via(order, templates.load_template("orders"))
    get_dlq().add(
        DeadLetter(
            flow="orders", record_id=str(order["id"]), task="tasks.orders.sync", step="transform",
            task_id=uuid.uuid4().hex, args=[], kwargs={"record_id": str(order["id"])},
            error_class="PermanentError", error_message=str(refused.value),
            field_errors=refused.value.field_errors,
        )
    )  # fmt: skip
    return order


def test_sales_orders_keyed_by_hand_make_their_ship_via_the_first_suggestion(
    sandboxes, redis_client, without_express
):
    xcart, acumatica = clients.xcart(), clients.acumatica()
    first = _stopped(sandboxes["xcart"].url, 1)
    _stopped(sandboxes["xcart"].url, 2)
    [before] = open_items(get_dlq(), acumatica, xcart=xcart)
    assert before.best is not None and before.best.code != "DHL"

    acumatica.put(
        "SalesOrder",
        {
            "OrderType": "SO",
            "CustomerID": "ABARTENDE",
            "CustomerOrder": str(first["order_number"]),
            "ShipVia": "DHL",
            "Details": [{"InventoryID": "AA-0016", "OrderQty": 1}],
        },
    )

    [item] = open_items(get_dlq(), acumatica, xcart=xcart)
    assert item.value == "Express" and item.count == 2
    assert item.best is not None and item.best.code == "DHL"
    assert any("1 of 1 linked record" in line for line in item.best.evidence)
