"""The Acumatica client against the Acumatica sandbox over HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sandboxes.common.catalog import seed_catalog
from sync_workers.connectors.acumatica.client import AcumaticaClient
from sync_workers.connectors.acumatica.filters import F, one_of
from sync_workers.connectors.config import AcumaticaConfig
from sync_workers.connectors.errors import (
    AuthError,
    NotFound,
    PreconditionFailed,
    RateLimited,
    ValidationFailed,
)
from sync_workers.errors import TransientError
from tests.connectors.conftest import PREFIX

CREDENTIALS = {"username": "admin", "password": "sandbox", "tenant": "Company"}


@pytest.fixture
def make_client(acumatica_sandbox, redis_client):
    made: list[AcumaticaClient] = []

    def build(**settings) -> AcumaticaClient:
        config = AcumaticaConfig(base_url=acumatica_sandbox.url, **{**CREDENTIALS, **settings})
        client = AcumaticaClient(config, redis_client, register_atexit=False, prefix=PREFIX)
        made.append(client)
        return client

    yield build
    for client in made:
        client.close()


def control(server, path: str, body: dict) -> None:
    requests.post(f"{server.url}/_sandbox/{path}", json=body, timeout=5).raise_for_status()


def order(customer_order: str, sku: str = "AA-CAFE") -> dict:
    return {
        "OrderType": "SO",
        "CustomerID": "XCGUEST",
        "CustomerOrder": customer_order,
        "Description": f"X-Cart order {customer_order}",
        "Hold": False,
        "Details": [{"InventoryID": sku, "OrderQty": 2, "UnitPrice": 9.5}],
    }


def test_hard_values_are_found_exactly_by_filter(make_client):
    acu = make_client()
    hard = [item for item in seed_catalog() if any(ch in item.sku + item.name for ch in "'\"/é")]
    assert hard
    for item in hard:
        by_sku = acu.get_list(
            "StockItem", filter=F("InventoryID") == item.sku, select=["InventoryID"]
        )
        assert [r["InventoryID"] for r in by_sku] == [item.sku]
        by_name = acu.get_list(
            "StockItem", filter=F("Description") == item.name, select=["InventoryID", "Description"]
        )
        assert [r["Description"] for r in by_name] == [item.name]


def test_injection_attempt_matches_nothing(make_client):
    acu = make_client()
    sneaky = "x' or InventoryID ne 'y"
    assert acu.get_list("StockItem", filter=F("InventoryID") == sneaky) == []


def test_paging_streams_the_whole_catalogue(make_client):
    acu = make_client()
    skus = [
        r["InventoryID"] for r in acu.iter_list("StockItem", select=["InventoryID"], page_size=37)
    ]
    assert len(skus) == len(set(skus)) == len(seed_catalog())


def test_key_with_slash_and_quote_is_read(make_client):
    acu = make_client()
    item = acu.get_by_keys("StockItem", "O'NEIL/42", expand=["WarehouseDetails"])
    assert item["InventoryID"] == "O'NEIL/42"
    assert {d["WarehouseID"] for d in item["WarehouseDetails"]} == {"WHOLESALE", "RETAIL"}


def test_sales_order_round_trip_and_lookup_by_customer_order(make_client):
    acu = make_client()
    saved = acu.put("SalesOrder", order("O'NEIL-1001"), expand=["Details"])
    assert saved["OrderNbr"] and saved["Details"][0]["InventoryID"] == "AA-CAFE"
    again = acu.get_by_keys("SalesOrder", "SO", saved["OrderNbr"])
    assert again["CustomerOrder"] == "O'NEIL-1001"
    found = acu.get_list(
        "SalesOrder", filter=(F("CustomerOrder") == "O'NEIL-1001") & (F("OrderType") == "SO")
    )
    assert [r["OrderNbr"] for r in found] == [saved["OrderNbr"]]
    since = datetime.now(UTC) - timedelta(minutes=5)
    changed = acu.get_list("SalesOrder", filter=F("LastModified") >= since)
    assert saved["OrderNbr"] in {r["OrderNbr"] for r in changed}


def test_missing_records_and_validation_errors(make_client):
    acu = make_client()
    with pytest.raises(NotFound):
        acu.get_by_keys("SalesOrder", "SO", "NOPE404")
    assert acu.get_by_keys("Customer", "NOBODY", missing_ok=True) is None
    bad = {**order("XC-BAD"), "CustomerID": "NOBODY"}
    with pytest.raises(ValidationFailed) as caught:
        acu.put("SalesOrder", bad)
    assert "CustomerID" in caught.value.field_errors


def test_insert_only_put_refuses_an_existing_record(make_client):
    acu = make_client()
    with pytest.raises(PreconditionFailed):
        acu.put("StockItem", {"InventoryID": "AA-CAFE"}, mode="insert")


def test_write_answer_lost_after_commit_is_marked_maybe_applied(acumatica_sandbox, make_client):
    acu = make_client(read_timeout=1.0)
    acu.get_list("StockItem", top=1)  # log in before the fault
    control(
        acumatica_sandbox,
        "faults",
        {
            "timeout_seconds": 3,
            "rules": [
                {"path": "SalesOrder$", "method": "PUT", "ptimeout": 1.0, "after_commit": True}
            ],
        },
    )
    with pytest.raises(TransientError) as caught:
        acu.put("SalesOrder", order("XC-LOST"))
    assert caught.value.details["maybe_applied"] is True
    control(acumatica_sandbox, "faults", {"rules": []})
    found = acu.get_list("SalesOrder", filter=F("CustomerOrder") == "XC-LOST")
    assert len(found) == 1  # the write happened: the caller must look before writing again


def test_429_with_retry_after_pauses_the_fleet(acumatica_sandbox, make_client):
    acu = make_client(max_concurrent=5, max_wait_seconds=0.1)
    acu.get_list("StockItem", top=1)
    control(acumatica_sandbox, "faults", {"rules": [{"path": "StockItem", "p429": 1.0}]})
    with pytest.raises(RateLimited) as caught:
        acu.get_list("StockItem", top=1)
    assert caught.value.retry_after >= 1
    control(acumatica_sandbox, "faults", {"rules": []})
    with pytest.raises(RateLimited):  # shared cool-down: no request is sent yet
        make_client(max_concurrent=5, max_wait_seconds=0.1).get_list("StockItem", top=1)


def test_long_action_is_polled_to_completion(acumatica_sandbox, make_client):
    control(
        acumatica_sandbox,
        "behaviour",
        {"long_actions": ["CancelSalesOrder"], "long_action_seconds": 0.3},
    )
    acu = make_client(action_poll_interval=0.1)
    saved = acu.put("SalesOrder", order("XC-CANCEL"))
    keys = {"OrderType": "SO", "OrderNbr": saved["OrderNbr"]}
    assert acu.invoke_action("SalesOrder", "CancelSalesOrder", keys) is None
    assert acu.get_by_keys("SalesOrder", "SO", saved["OrderNbr"])["Status"] == "Canceled"


def test_odata_generic_inquiry_reads_flat_rows(make_client):
    acu = make_client()
    rows = list(
        acu.odata.gi(
            "ItemAvailability",
            filter=one_of("InventoryID", ["AA-CAFE", "O'NEIL/42"]),
            orderby=["InventoryID", "WarehouseID"],
            page_size=3,
        )
    )
    assert {r["InventoryID"] for r in rows} == {"AA-CAFE", "O'NEIL/42"}
    assert all(isinstance(r["QtyOnHand"], int | float) for r in rows)


def test_odata_with_basic_auth_opens_no_session(acumatica_sandbox, make_client):
    acu = make_client(odata_basic_auth=True)
    rows = list(acu.odata.gi("Customers", filter=F("CustomerID") == "OBRIEN"))
    assert [r["CustomerID"] for r in rows] == ["OBRIEN"]
    seen = requests.get(f"{acumatica_sandbox.url}/_sandbox/stats", timeout=5).json()
    assert seen["logins"] == 0


def test_oauth_mode_reads_with_a_shared_token(acumatica_sandbox, make_client):
    acu = make_client(auth_mode="oauth", client_id="sync@Company", client_secret="sandbox")
    other = make_client(auth_mode="oauth", client_id="sync@Company", client_secret="sandbox")
    assert acu.get_by_keys("Customer", "XCGUEST")["CustomerID"] == "XCGUEST"
    assert other.get_by_keys("Customer", "OBRIEN")["CustomerID"] == "OBRIEN"
    seen = requests.get(f"{acumatica_sandbox.url}/_sandbox/stats", timeout=5).json()
    assert seen["peak_sessions"] == 1


def test_wrong_password_is_permanent(make_client):
    with pytest.raises(AuthError):
        make_client(password="wrong").get_list("StockItem", top=1)


def test_wrong_oauth_client_secret_is_permanent(make_client):
    acu = make_client(auth_mode="oauth", client_id="sync@Company", client_secret="wrong")
    with pytest.raises(AuthError):
        acu.get_list("StockItem", top=1)


PIECES = [*"ab'\"/\\()% +-=,é漢", " or ", " eq ", " and ", "'')", "$filter=", "%27", "--"]


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.sampled_from(PIECES), min_size=1, max_size=8).map("".join))
def test_any_text_in_a_filter_finds_only_itself(make_client, text):
    acu = make_client()  # clients share the one pooled session through Redis
    flt = (F("InventoryID") == text) | (F("Description") == text)
    assert acu.get_list("StockItem", filter=flt, select=["InventoryID"]) == []
