"""A third-party client, easy-acumatica 0.6.1, works against the sandbox unmodified."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from easy_acumatica import AcumaticaClient
from easy_acumatica.odata import F, QueryOptions

from .client import Api


def test_easy_acumatica_round_trip_including_a_lost_session(anon: Api, tmp_path: Path) -> None:
    client = AcumaticaClient(
        base_url=anon.url,
        username="admin",
        password="sandbox",
        tenant="Company",
        endpoint_name="Default",
        endpoint_version="24.200.001",
        cache_methods=False,
        cache_dir=tmp_path,
        auto_load_env=False,
        verify_ssl=False,
        timeout=30,
    )
    try:
        assert anon.control("GET", "/stats")["sessions_in_use"] == 1
        order = {
            "OrderType": {"value": "SO"},
            "CustomerID": {"value": "XCGUEST"},
            "CustomerOrder": {"value": "XC-100045"},
            "Description": {"value": "X-Cart order XC-100045"},
            "Hold": {"value": False},
            "ShipToAddressOverride": {"value": True},
            "ShipToAddress": {
                "AddressLine1": {"value": "1 Main St"},
                "City": {"value": "Austin"},
                "State": {"value": "TX"},
                "PostalCode": {"value": "78701"},
                "Country": {"value": "US"},
            },
            "Details": [
                {
                    "InventoryID": {"value": "AA-0001"},
                    "OrderQty": {"value": 2},
                    "UnitPrice": {"value": 9.99},
                }
            ],
        }
        saved = client.sales_order.put_entity(
            order, options=QueryOptions(expand=["Details", "ShipToAddress"])
        )
        assert saved["OrderNbr"]["value"] and saved["Status"]["value"] == "Open"
        assert saved["ShipToAddress"]["City"]["value"] == "Austin"

        since = datetime(2026, 1, 1, tzinfo=UTC)
        rows = client.sales_order.get_list(
            options=QueryOptions(
                filter=(F.LastModified >= since) & (F.CustomerOrder == "XC-100045"),
                expand=["Details"],
                top=100,
            )
        )
        assert [r["id"] for r in rows] == [saved["id"]]
        assert rows[0]["Details"][0]["OrderQty"]["value"] == 2.0

        anon.control("POST", "/sessions/drop")
        again = client.sales_order.get_by_keys(OrderType="SO", OrderNbr=saved["OrderNbr"]["value"])
        assert again["CustomerOrder"]["value"] == "XC-100045"

        invocation = client.models.CancelSalesOrder(
            entity=client.models.SalesOrder(OrderType="SO", OrderNbr=saved["OrderNbr"]["value"])
        )
        client.sales_order.put_file(
            saved["id"], "order.txt", b"X-Cart order", comment="from the store"
        )
        files = client.sales_order.get_files(saved["id"])
        assert [f["comment"] for f in files] == ["from the store"]

        client.sales_order.invoke_action_cancel_sales_order(invocation)
        assert client.sales_order.get_by_id(saved["id"])["Status"]["value"] == "Canceled"
    finally:
        client.logout()
    stats = anon.control("GET", "/stats")
    assert stats["sessions_in_use"] == 0 and stats["logouts"] == 1
    assert stats["logins"] == 2
    assert stats["requests"]["by_status"]["401"] == 1
