"""Acumatica change polls over the DAC-based OData service (``poll.source: odata``): an idle
poll costs one OData request, no contract-API request and no API seat; what changed still
arrives, read through the contract API only for the records that changed."""

from __future__ import annotations

import shutil
import time
from decimal import Decimal

import pytest
import requests
import yaml

from sync_workers import clients
from sync_workers.connectors.acumatica.filters import F
from sync_workers.flows import customers as customer_flow
from sync_workers.flows import products, shipments
from sync_workers.flows.runner import run_inline
from sync_workers.flows.shape import PollRequest
from sync_workers.mapping import templates
from sync_workers.observability.status import acumatica_requests
from sync_workers.settings import get_settings
from tasks import customers as customer_tasks
from tasks import orders as order_tasks  # noqa: F401  (registers the orders tasks)
from tasks import payments as payment_tasks  # noqa: F401  (registers the payment steps)
from tests.flows.order_to_cash.helpers import address, checkout, linked, wait_for

ODATA = "GET /t/Company/api/odata/dac/"


@pytest.fixture
def source(tmp_path):
    """The bundled templates with polls that settle at once; ``source(flow, "rest")`` switches
    a flow's poll source."""
    folder = tmp_path / "templates"
    shutil.copytree(templates.BUNDLED_DIR, folder)
    for flow in ("shipments", "customers"):
        path = folder / f"{flow}.yaml"
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        data["poll"] = {**data["poll"], "settle_seconds": 0}
        data["poll"].pop("sweep_seconds", None)
        path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    templates.use_templates_dir(folder)

    def switch(flow: str, value: str) -> None:
        path = folder / f"{flow}.yaml"
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        data["poll"]["source"] = value
        path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
        templates.clear_cache()

    yield switch
    templates.use_templates_dir(None)


def acumatica(sandboxes) -> str:
    return sandboxes["acumatica"].url


def stats(sandboxes) -> dict:
    return requests.get(f"{acumatica(sandboxes)}/_sandbox/stats", timeout=10).json()


def reset_stats(sandboxes) -> None:
    requests.post(f"{acumatica(sandboxes)}/_sandbox/stats/reset", json={}, timeout=10)


def calls(sandboxes) -> dict[str, int]:
    return stats(sandboxes)["requests"]["by_path"]


def counts() -> dict[str, int]:
    from sync_workers.redis_client import get_redis

    return acumatica_requests(get_redis(), get_settings().redis_key_prefix)


def take_every_seat(sandboxes) -> list[requests.Session]:
    """Someone else signs in until the licence has no API seat left."""
    taken = []
    while True:
        http = requests.Session()
        answer = http.post(
            f"{acumatica(sandboxes)}/entity/auth/login",
            json={"name": "admin", "password": "sandbox", "tenant": "Company"},
            timeout=10,
        )
        if answer.status_code != 204:
            assert "API Login Limit" in answer.text
            return taken
        taken.append(http)


def release(sandboxes, taken: list[requests.Session]) -> None:
    for http in taken:
        http.post(f"{acumatica(sandboxes)}/entity/auth/logout", timeout=10)


def sales_order_shipment(confirm: bool = True) -> str:
    """A sales order of the guest customer shipped from RETAIL; the shipment confirmed."""
    client = clients.acumatica()
    order = client.put(
        "SalesOrder",
        {
            "OrderType": "SO",
            "CustomerID": "XCGUEST",
            "Details": [{"InventoryID": "AA-0003", "OrderQty": 1, "WarehouseID": "RETAIL"}],
        },
    )
    shipment = client.put(
        "Shipment",
        {
            "Type": "Shipment",
            "CustomerID": "XCGUEST",
            "WarehouseID": "RETAIL",
            "Details": [{"OrderType": "SO", "OrderNbr": order["OrderNbr"]}],
        },
    )
    if confirm:
        client.invoke_action(
            "Shipment", "ConfirmShipment", {"ShipmentNbr": shipment["ShipmentNbr"]}
        )
    return str(shipment["ShipmentNbr"])


def handed_out(flow_poll, request: PollRequest | None = None) -> list[str]:
    found: list[str] = []
    flow_poll(request or PollRequest(), lambda starts: found.extend(s.record_id for s in starts))
    return found


def test_idle_shipment_poll_is_one_odata_request_and_needs_no_api_seat(
    sandboxes, clean_ledger, source
) -> None:
    handed_out(shipments.poll)  # the cursor starts
    before = counts()
    reset_stats(sandboxes)
    taken = take_every_seat(sandboxes)
    try:
        assert taken, "the licence has API seats to take"
        assert handed_out(shipments.poll) == []
    finally:
        release(sandboxes, taken)
    by_path = calls(sandboxes)
    polls = {p: n for p, n in by_path.items() if p.startswith(ODATA)}
    assert polls == {f"{ODATA}SOShipment": 1}
    assert not [p for p in by_path if "/entity/Default/" in p]  # no contract-API request
    seen = stats(sandboxes)
    assert seen["login_limit_errors"] == 1  # only the other user's last try, never the poll's
    assert seen["odata_basic_requests"] == 1
    after = counts()
    assert after["odata"] - before["odata"] == 1 and after["contract"] == before["contract"]


def test_shipments_found_through_odata_match_the_contract_api(
    sandboxes, clean_ledger, source
) -> None:
    handed_out(shipments.poll)
    confirmed = sales_order_shipment()
    open_one = sales_order_shipment(confirm=False)
    assert handed_out(shipments.poll) == [confirmed]  # raw status "F" is "Confirmed"
    assert handed_out(shipments.poll) == []  # handed out once
    found = {r["ShipmentNbr"] for r in shipments.changed_shipments(since="2000-01-01T00:00:00Z")}
    source("shipments", "rest")
    over_rest = {
        r["ShipmentNbr"] for r in shipments.changed_shipments(since="2000-01-01T00:00:00Z")
    }
    assert found == over_rest and confirmed in found and open_one not in found


def test_acumatica_customer_change_reaches_the_store_through_a_worker(
    sandboxes, clean_ledger, source, redis_client, celery_worker
) -> None:
    xcart = sandboxes["xcart"].url
    order = checkout(
        xcart,
        {
            "email": "odata.poll@example.com",
            "items": [{"sku": "AA-0010", "amount": 1}],
            "billing_address": address("Olga", "Data", "OR"),
            "payment_method": "Credit Card",
        },
    )
    run_inline("orders", "sync", str(order["id"]))
    key = wait_for(lambda: linked("orders").get(str(order["id"])))
    customer_id = clients.acumatica().get_by_keys("SalesOrder", *key.split("/"))["CustomerID"]
    redis_client.set(customer_flow.profile_scan_key(), "9999999999")  # no profile scan
    list(customer_flow.changed_acumatica_customers())  # the cursor starts here
    reset_stats(sandboxes)
    clients.acumatica().put("Customer", {"CustomerID": customer_id, "Status": "Inactive"})

    customer_tasks.poll.delay()
    wait_for(lambda: clients.xcart().get_profile(order["customer_id"])["status"] == "D")
    by_path = calls(sandboxes)
    assert by_path.get(f"{ODATA}Customer") == 1
    # the poll listed nothing through the contract API; the chain read the one changed customer
    assert "GET /entity/Default/24.200.001/Customer" not in by_path
    assert any(
        p.startswith(f"GET /entity/Default/24.200.001/Customer/{customer_id}") for p in by_path
    )


def test_products_poll_source_switches_between_odata_and_rest(
    sandboxes, clean_ledger, source, redis_client
) -> None:
    settle = templates.load_template("products")["poll"]["settle_seconds"]
    time.sleep(settle + 0.5)  # the seed items are inside the first poll's window
    assert products.changed_skus() == []  # first poll: every StockItem, the store scanned
    reset_stats(sandboxes)
    clients.acumatica().put("StockItem", {"InventoryID": "AA-LODZ", "Description": "Mug, new"})
    redis_client.set(products.store_scan_key(), "9999999999")
    assert products.changed_skus() == ["AA-LODZ"]
    by_path = calls(sandboxes)
    assert by_path.get(f"{ODATA}InventoryItem") == 1
    assert "GET /entity/Default/24.200.001/StockItem" not in by_path  # no list read
    assert by_path.get("GET /entity/Default/24.200.001/StockItem/AA-LODZ") == 1

    source("products", "rest")
    reset_stats(sandboxes)
    products.changed_skus()
    by_path = calls(sandboxes)
    assert by_path.get("GET /entity/Default/24.200.001/StockItem", 0) >= 1  # the paged list
    assert not [p for p in by_path if p.startswith(ODATA)]


def test_a_bad_poll_source_is_a_clear_template_error(source) -> None:
    source("shipments", "graphql")
    problems = templates.validate_all(["shipments", "customers"])
    assert problems == ["shipments.yaml: poll.source: must be one of odata, rest"]


def test_decimal_filters_reach_the_contract_api_with_the_m_suffix(sandboxes) -> None:
    client = clients.acumatica()
    order = client.put(
        "SalesOrder",
        {
            "OrderType": "SO",
            "CustomerID": "XCGUEST",
            "CustomerOrder": "DECIMAL-M",
            "Details": [{"InventoryID": "AA-0003", "OrderQty": 2, "WarehouseID": "RETAIL"}],
        },
    )
    total = Decimal(str(order["OrderTotal"]))
    assert total > 0
    found = client.get_list(
        "SalesOrder",
        filter=(F("CustomerOrder") == "DECIMAL-M") & (F("OrderTotal") >= total),
        select=["OrderNbr"],
    )
    assert [r["OrderNbr"] for r in found] == [order["OrderNbr"]]
    above = client.get_list(
        "SalesOrder",
        filter=(F("CustomerOrder") == "DECIMAL-M") & (F("OrderTotal") > total),
        select=["OrderNbr"],
    )
    assert above == []


def test_sync_status_shows_odata_and_contract_requests_apart(sandboxes, clean_ledger, source):
    from click.testing import CliRunner

    from sync_workers.cli.status import status

    handed_out(shipments.poll)
    clients.acumatica().get_by_keys("Customer", "XCGUEST")
    counted = counts()
    assert counted["odata"] >= 1 and counted["contract"] >= 1
    result = CliRunner().invoke(status, [])
    line = next(x for x in result.output.splitlines() if x.startswith("acumatica:"))
    assert f"{counted['contract']} contract API, {counted['odata']} OData" in line


def test_inventory_change_query_reads_insitestatus_through_odata(
    sandboxes, erp, store, clean_ledger, source
) -> None:
    import tasks.inventory

    assert tasks.inventory.poll()["changed"] == []  # the first poll: a full comparison
    reset_stats(sandboxes)
    assert tasks.inventory.poll()["changed"] == []
    assert calls(sandboxes) == {f"{ODATA}INSiteStatus": 1}  # idle: one OData request
    erp.adjust([("AA-0021", "RETAIL", 3)])
    reset_stats(sandboxes)
    assert tasks.inventory.poll()["changed"] == ["AA-0021"]
    # the change query, then the item's rows in every warehouse for its flush
    assert calls(sandboxes).get(f"{ODATA}INSiteStatus") == 2
    assert not [p for p in calls(sandboxes) if "InventoryQuantityAvailable" in p]

    path = templates.templates_dir() / "inventory.yaml"
    path.write_text(
        path.read_text(encoding="utf-8").replace(
            "changes: INSiteStatus", "changes: InventoryQuantityAvailable"
        ),
        encoding="utf-8",
    )
    templates.clear_cache()
    tasks.inventory.poll()  # its rows (one per item, not per warehouse) are new to the cursor
    erp.adjust([("AA-0022", "RETAIL", 1)])  # a change past the position saves them as handled
    assert "AA-0022" in tasks.inventory.poll()["changed"]
    reset_stats(sandboxes)
    assert tasks.inventory.poll()["changed"] == []
    assert calls(sandboxes) == {"PUT /entity/Default/24.200.001/InventoryQuantityAvailable": 1}


def test_odata_requests_share_the_connectors_limits_but_take_no_seat(
    sandboxes, redis_client
) -> None:
    from dataclasses import replace

    from sync_workers.clients import acumatica_config
    from sync_workers.connectors.acumatica.client import AcumaticaClient

    config = replace(acumatica_config(get_settings()), requests_per_minute=10_000)
    client = AcumaticaClient(
        config,
        redis_client,
        prefix=get_settings().redis_key_prefix + "limits-test:",
        register_atexit=False,
    )
    try:
        limits = client.transport.limits
        assert limits is not None
        before = limits.in_window()
        reset_stats(sandboxes)
        rows = list(client.odata.changes("SOShipment", key="ShipmentNbr", start=None, end=None))
        assert limits.in_window() == before + 1  # one slot of the fleet-wide rate window
        assert len(rows) == len({r["ShipmentNbr"] for r in rows})
        seen = stats(sandboxes)
        assert seen["logins"] == 0 and seen["sessions_in_use"] == 0
        assert seen["odata_basic_requests"] == 1
    finally:
        client.close()
