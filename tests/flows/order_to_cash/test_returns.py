"""``refunds.returns``: a staff edit that takes goods off a shipped order becomes a return
order (RC) that restocks once received, exactly once."""

from __future__ import annotations

import time
from typing import Any

import yaml

from sync_workers import clients
from sync_workers.connectors.acumatica.filters import F
from sync_workers.flows import runner
from sync_workers.mapping import templates
from tasks import orders as order_tasks
from tasks import payments as payment_tasks  # noqa: F401  (registers the payment steps)
from tests.flows.order_to_cash.helpers import (
    address,
    checkout,
    ledger_rows,
    linked,
    open_dead_letters,
    sandbox,
    wait_for,
)
from tests.flows.order_to_cash.test_shipments_flow import confirmed_shipment


def use_returns(directory: Any, enabled: bool = True) -> None:
    path = directory / "payments.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["refunds"]["returns"] = {"enabled": enabled, "order_type": "RC"}
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    templates.clear_cache()


def shipped_order(xcart: str, email: str) -> tuple[dict, str, str]:
    order = checkout(
        xcart,
        {
            "email": email,
            "items": [{"sku": "AA-0016", "amount": 3}, {"sku": "AA-0017", "amount": 1}],
            "billing_address": address("Rhea", "Turner " + email.split("@")[0], "OR"),
            "payment_method": "Credit Card",
        },
    )
    runner.start("orders", order["id"])
    key = wait_for(lambda: linked("orders").get(str(order["id"])))
    order_type, order_nbr = key.split("/")
    confirmed_shipment(order_type, order_nbr, ["1Z1"])
    so = clients.acumatica().get_by_keys("SalesOrder", order_type, order_nbr)
    assert so["Status"] == "Completed"
    return order, order_type, order_nbr


def edit_items(xcart: str, order_id: int, **amounts: int) -> None:
    sandbox(xcart, "clock", {"advance_seconds": 2})  # update dates move in whole seconds
    items = [{"sku": sku.replace("_", "-"), "amount": n} for sku, n in amounts.items()]
    sandbox(xcart, f"orders/{order_id}/edit", {"items": items})


def returns_of(order_type: str, order_nbr: str) -> list[dict]:
    client = clients.acumatica()
    so = client.get_by_keys("SalesOrder", order_type, order_nbr)
    return client.get_list(
        "SalesOrder",
        filter=(F("OrderType") == "RC") & (F("CustomerOrder") == so["CustomerOrder"]),
        expand=["Details"],
    )


def on_hand(sku: str, warehouse: str = "RETAIL") -> float:
    item = clients.acumatica().get_by_keys("StockItem", sku, expand=["WarehouseDetails"])
    [row] = [r for r in item["WarehouseDetails"] if r["WarehouseID"] == warehouse]
    return float(row["QtyOnHand"])


def last_change(order_id: int) -> str:
    [record] = [r for r in ledger_rows("orders") if r.source_id == str(order_id)]
    return str(record.data.get("last_change"))


def test_an_edit_of_a_shipped_order_becomes_one_return_order_that_restocks(
    sandboxes, clean_ledger, celery_worker, fast_templates
) -> None:
    use_returns(fast_templates)
    xcart = sandboxes["xcart"].url
    order, order_type, order_nbr = shipped_order(xcart, "return.one@example.com")
    so = clients.acumatica().get_by_keys("SalesOrder", order_type, order_nbr, expand=["Details"])
    price = {d["InventoryID"]: d["DiscountedUnitPrice"] for d in so["Details"]}
    edit_items(xcart, order["id"], AA_0016=1)

    order_tasks.poll.delay()
    order_tasks.realtime_on_webhook.delay(event="order.updated", data={"id": order["id"]})
    runner.start("orders", order["id"])

    [made] = wait_for(lambda: returns_of(order_type, order_nbr))
    time.sleep(1.5)  # the duplicated triggers have run too
    assert len(returns_of(order_type, order_nbr)) == 1
    assert made["Status"] == "Open" and made["CustomerID"] == so["CustomerID"]
    assert [(d["InventoryID"], d["OrderQty"], d["Operation"], d["UnitPrice"])
            for d in made["Details"]] == [("AA-0016", 2.0, "Receipt", price["AA-0016"])]  # fmt: skip
    assert last_change(order["id"]) == f"returned: RC/{made['OrderNbr']}"

    before = on_hand("AA-0016")
    client = clients.acumatica()
    client.invoke_action(
        "SalesOrder", "SalesOrderCreateReceipt", {"OrderType": "RC", "OrderNbr": made["OrderNbr"]}
    )
    [receipt] = client.get_by_keys("SalesOrder", "RC", made["OrderNbr"], expand=["Shipments"])[
        "Shipments"
    ]
    client.invoke_action("Shipment", "ConfirmShipment", {"ShipmentNbr": receipt["ShipmentNbr"]})
    assert on_hand("AA-0016") == before + 2

    edit_items(xcart, order["id"], AA_0016=0)  # the rest of that line comes back too
    runner.start("orders", order["id"])
    wait_for(lambda: len(returns_of(order_type, order_nbr)) == 2)
    second = [r for r in returns_of(order_type, order_nbr) if r["OrderNbr"] != made["OrderNbr"]]
    assert [(d["InventoryID"], d["OrderQty"]) for d in second[0]["Details"]] == [("AA-0016", 1.0)]
    runner.start("orders", order["id"], verify=True)  # a replay of the same change
    time.sleep(1.0)
    assert len(returns_of(order_type, order_nbr)) == 2
    assert not open_dead_letters()


def test_a_return_order_committed_then_timed_out_is_not_made_twice(
    sandboxes, clean_ledger, celery_worker, fast_templates
) -> None:
    use_returns(fast_templates)
    xcart, acumatica = sandboxes["xcart"].url, sandboxes["acumatica"].url
    order, order_type, order_nbr = shipped_order(xcart, "return.lost@example.com")
    edit_items(xcart, order["id"], AA_0017=0)
    rule = {"path": "SalesOrder$", "method": "PUT", "preset": 1.0, "after_commit": True}
    sandbox(acumatica, "faults", {"rules": [rule]})
    try:
        order_tasks.poll.delay()
        wait_for(lambda: sandbox(acumatica, "stats")["faults_injected"].get("preset", 0) >= 1)
    finally:
        sandbox(acumatica, "faults", {"rules": []})

    wait_for(lambda: "return" in last_change(order["id"]), timeout=40)
    time.sleep(1.0)
    [made] = returns_of(order_type, order_nbr)
    assert [(d["InventoryID"], d["OrderQty"]) for d in made["Details"]] == [("AA-0017", 1.0)]
    assert not open_dead_letters()


def test_with_returns_off_an_edit_of_a_shipped_order_is_not_applied(
    sandboxes, clean_ledger, celery_worker, fast_templates
) -> None:
    use_returns(fast_templates, enabled=False)
    xcart = sandboxes["xcart"].url
    order, order_type, order_nbr = shipped_order(xcart, "return.off@example.com")
    edit_items(xcart, order["id"], AA_0016=2)

    runner.start("orders", order["id"])

    wait_for(lambda: last_change(order["id"]) == "edit not applied: sales order is Completed")
    assert returns_of(order_type, order_nbr) == []
    assert not open_dead_letters()
