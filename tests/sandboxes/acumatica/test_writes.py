"""PUT upserts, preconditions, validation errors, detail lines, DELETE and reads by key."""

from __future__ import annotations

from .client import Api, value


def test_put_inserts_with_auto_number_ignoring_sent_number(api: Api) -> None:
    first = api.order()
    second = api.order(OrderNbr="999999")
    assert value(first, "OrderNbr") == "000001"
    assert value(second, "OrderNbr") == "000002"
    assert value(second, "Status") == "Open"


def test_put_by_keys_updates_the_same_record(api: Api) -> None:
    order = api.order()
    body = {
        "OrderType": {"value": "SO"},
        "OrderNbr": order["OrderNbr"],
        "Description": {"value": "Edited"},
    }
    updated = api.put("SalesOrder", body).json()
    assert updated["id"] == order["id"] and value(updated, "Description") == "Edited"
    assert len(api.get("SalesOrder").json()) == 1


def test_put_by_id_and_by_filter_update(api: Api) -> None:
    order = api.order(CustomerOrder="XC-7")
    by_id = api.put("SalesOrder", {"id": order["id"], "Description": {"value": "by id"}}).json()
    assert by_id["id"] == order["id"]
    by_filter = api.put(
        "SalesOrder",
        {"Description": {"value": "by filter"}},
        **{"$filter": "CustomerOrder eq 'XC-7'"},
    )
    assert by_filter.json()["id"] == order["id"]
    assert value(api.get(f"SalesOrder/{order['id']}").json(), "Description") == "by filter"


def test_customer_order_filter_finds_the_order(api: Api) -> None:
    api.order(CustomerOrder="XC-1")
    wanted = api.order(CustomerOrder="O'Neil #2")
    rows = api.get("SalesOrder", **{"$filter": "CustomerOrder eq 'O''Neil #2'"}).json()
    assert [r["id"] for r in rows] == [wanted["id"]]


def test_if_none_match_star_is_412_when_the_record_exists(api: Api) -> None:
    response = api.put(
        "Customer", {"CustomerID": {"value": "XCGUEST"}}, headers={"If-None-Match": "*"}
    )
    assert response.status_code == 412
    created = api.put(
        "Customer",
        {"CustomerID": {"value": "NEWONE"}, "CustomerName": {"value": "New"}},
        headers={"If-None-Match": "*"},
    )
    assert created.status_code == 200


def test_if_match_star_is_412_when_the_record_is_missing(api: Api) -> None:
    missing = api.put("Customer", {"CustomerID": {"value": "NOPE"}}, headers={"If-Match": "*"})
    assert missing.status_code == 412
    assert api.get("Customer/NOPE").status_code == 500
    existing = api.put(
        "Customer",
        {"CustomerID": {"value": "XCGUEST"}, "Terms": {"value": "NET15"}},
        headers={"If-Match": "*"},
    )
    assert existing.status_code == 200 and value(existing.json(), "Terms") == "NET15"


def test_unknown_customer_is_422_and_nothing_is_stored(api: Api) -> None:
    response = api.put("SalesOrder", {"CustomerID": {"value": "GHOST"}, "Details": []})
    assert response.status_code == 422
    body = response.json()
    assert body["CustomerID"] == {
        "value": "GHOST",
        "error": "'Customer' cannot be found in the system.",
    }
    assert (
        body["error"]
        == "Inserting 'Sales Order' record raised at least one error. Please review the errors."
    )
    assert api.get("SalesOrder").json() == []


def test_unknown_inventory_item_is_422_on_the_line(api: Api) -> None:
    body = {
        "CustomerID": {"value": "XCGUEST"},
        "Details": [{"InventoryID": {"value": "NO-SUCH"}, "OrderQty": {"value": 1}}],
    }
    response = api.put("SalesOrder", body)
    assert response.status_code == 422
    line = response.json()["Details"][0]
    assert line["InventoryID"]["error"] == "'Inventory Item' cannot be found in the system."
    assert api.get("SalesOrder").json() == []


def test_invalid_drop_down_value_is_422_on_the_field(api: Api) -> None:
    response = api.put(
        "StockItem", {"InventoryID": {"value": "AA-0001"}, "ItemStatus": {"value": "Sleeping"}}
    )
    assert response.status_code == 422
    assert "error" in response.json()["ItemStatus"]
    assert value(api.get("StockItem/AA-0001").json(), "ItemStatus") == "Active"


def test_drop_down_labels_are_matched_without_case(api: Api) -> None:
    response = api.put(
        "StockItem", {"InventoryID": {"value": "AA-0001"}, "ItemStatus": {"value": "no sales"}}
    )
    assert value(response.json(), "ItemStatus") == "No Sales"


def test_empty_body_is_400_request_invalid(api: Api) -> None:
    for body in (None, {}):
        response = api.http.put(f"{api.url}/entity/Default/24.200.001/SalesOrder", json=body)
        assert response.status_code == 400
        assert response.json() == {
            "message": "The request is invalid.",
            "modelState": {"": ["The request body should not be empty."]},
        }


def test_read_only_and_calculated_fields_are_ignored(api: Api) -> None:
    body = {
        "CustomerID": {"value": "XCGUEST"},
        "Status": {"value": "Completed"},
        "OrderTotal": {"value": 1},
        "Approved": {"value": False},
        "CreditHold": {"value": True},
        "Details": [
            {"InventoryID": {"value": "AA-0001"}, "OrderQty": {"value": 1}, "Amount": {"value": 5}}
        ],
        "Payments": [],
        "Shipments": [],
    }
    order = api.put("SalesOrder", body, **{"$expand": "Details"}).json()
    assert value(order, "Status") == "Open"
    assert value(order, "CreditHold") is False
    assert value(order, "OrderTotal") == value(order["Details"][0], "UnitPrice")


def test_detail_lines_added_updated_by_id_and_deleted(api: Api) -> None:
    order = api.order(lines=[("AA-0001", 1), ("AA-0002", 1)])
    first, second = order["Details"]
    body = {
        "id": order["id"],
        "Details": [
            {"id": first["id"], "OrderQty": {"value": 5}},
            {"id": second["id"], "delete": True},
            {"InventoryID": {"value": "AA-0003"}, "OrderQty": {"value": 2}},
        ],
    }
    updated = api.put("SalesOrder", body, **{"$expand": "Details"}).json()
    lines = {value(line, "InventoryID"): line for line in updated["Details"]}
    assert set(lines) == {"AA-0001", "AA-0003"}
    assert value(lines["AA-0001"], "OrderQty") == 5.0
    assert value(lines["AA-0003"], "LineNbr") == 3
    assert [line["rowNumber"] for line in updated["Details"]] == [1, 2]


def test_get_by_keys_pipe_keys_and_id(api: Api) -> None:
    order = api.order()
    nbr = value(order, "OrderNbr")
    for path in (f"SalesOrder/SO/{nbr}", f"SalesOrder/SO|{nbr}", f"SalesOrder/{order['id']}"):
        response = api.get(path)
        assert response.status_code == 200 and response.json()["id"] == order["id"]


def test_missing_record_is_500_no_entity_and_switchable_to_404(api: Api) -> None:
    response = api.get("SalesOrder/SO/424242")
    assert response.status_code == 500
    body = response.json()
    assert body["exceptionMessage"] == "No entity satisfies the condition."
    assert body["exceptionType"] == "PX.Api.ContractBased.NoEntitySatisfiesTheConditionException"
    api.control("POST", "/behaviour", {"not_found_status": 404})
    assert api.get("SalesOrder/SO/424242").status_code == 404


def test_delete_by_keys_and_by_id(api: Api) -> None:
    order = api.order()
    assert api.delete(f"SalesOrder/SO/{value(order, 'OrderNbr')}").status_code == 204
    assert api.get(f"SalesOrder/{order['id']}").status_code == 500
    created = api.put(
        "Customer", {"CustomerID": {"value": "TEMP"}, "CustomerName": {"value": "Temp"}}
    ).json()
    assert api.delete(f"Customer/{created['id']}").status_code == 204
    assert api.get("Customer/TEMP").status_code == 500


def test_patch_needs_an_existing_record(api: Api) -> None:
    response = api.http.patch(
        f"{api.url}/entity/Default/24.200.001/Customer", json={"CustomerID": {"value": "NOPE"}}
    )
    assert response.status_code == 404
    url = f"{api.url}/entity/Default/24.200.001/Customer"
    insert_only = api.http.patch(
        url, json={"CustomerID": {"value": "NOPE"}}, headers={"If-None-Match": "*"}
    )
    assert insert_only.status_code == 412
    patched = api.http.patch(
        url, json={"CustomerID": {"value": "XCGUEST"}, "Terms": {"value": "COD"}}
    )
    assert patched.status_code == 200 and value(patched.json(), "Terms") == "COD"


def test_top_and_skip_page_in_a_stable_key_order(api: Api) -> None:
    for _ in range(5):
        api.order()
    pages = [api.get("SalesOrder", **{"$top": 2, "$skip": skip}).json() for skip in (0, 2, 4)]
    numbers = [value(r, "OrderNbr") for page in pages for r in page]
    assert numbers == ["000001", "000002", "000003", "000004", "000005"]
    assert len(pages[-1]) == 1


def test_string_gt_supports_keyset_paging(api: Api) -> None:
    rows = api.get(
        "StockItem", **{"$filter": "InventoryID gt 'AA-0190'", "$select": "InventoryID"}
    ).json()
    ids = [value(r, "InventoryID") for r in rows]
    assert ids[0] == "AA-0191" and ids == sorted(ids, key=str.lower)


def test_linked_path_filter_on_customer(api: Api) -> None:
    rows = api.get("Customer", **{"$filter": "MainContact/Email eq 'zoe@example.pl'"}).json()
    assert [value(r, "CustomerID") for r in rows] == ["LUKASIEW"]


def test_filter_on_date_literal_forms(api: Api) -> None:
    api.order()
    for literal in (
        "datetimeoffset'2020-01-01T00:00:00+03:00'",
        "datetime'2020-01-01T00:00:00'",
        "date'2020-01-01'",
    ):
        assert len(api.get("SalesOrder", **{"$filter": f"LastModified gt {literal}"}).json()) == 1
    assert (
        api.get(
            "SalesOrder", **{"$filter": "LastModified gt datetime'2999-01-01T00:00:00+00:00'"}
        ).json()
        == []
    )


def test_bad_filter_is_refused(api: Api) -> None:
    assert api.get("SalesOrder", **{"$filter": "CustomerOrder eq"}).status_code == 400
    assert api.get("SalesOrder", **{"$filter": "Nope eq 'x'"}).status_code == 500


def test_unchanged_put_keeps_last_modified(api: Api) -> None:
    before = api.get("Customer/XCGUEST").json()
    after = api.put(
        "Customer", {"CustomerID": {"value": "XCGUEST"}, "CustomerName": before["CustomerName"]}
    ).json()
    assert after["LastModifiedDateTime"] == before["LastModifiedDateTime"]


def test_customer_email_follows_main_contact(api: Api) -> None:
    body = {
        "CustomerID": {"value": "C-EMAIL"},
        "CustomerName": {"value": "Mail Test"},
        "MainContact": {
            "Email": {"value": "a@example.com"},
            "Phone1": {"value": "+1 555"},
            "Address": {"City": {"value": "Reno"}},
        },
    }
    created = api.put("Customer", body).json()
    assert value(created, "Email") == "a@example.com"
    updated = api.put(
        "Customer",
        {"CustomerID": {"value": "C-EMAIL"}, "Email": {"value": "b@example.com"}},
        **{"$expand": "MainContact"},
    ).json()
    assert value(updated, "MainContact", "Email") == "b@example.com"


def test_detail_rows_are_matched_by_their_keys_when_no_id_is_sent(api: Api) -> None:
    body = {
        "InventoryID": {"value": "AA-0001"},
        "WarehouseDetails": [{"WarehouseID": {"value": "RETAIL"}, "Override": {"value": True}}],
    }
    item = api.put("StockItem", body, **{"$expand": "WarehouseDetails"}).json()
    rows = {value(r, "WarehouseID"): r for r in item["WarehouseDetails"]}
    assert len(item["WarehouseDetails"]) == 2
    assert value(rows["RETAIL"], "Override") is True
    order = api.order(lines=[("AA-0001", 1), ("AA-0002", 1)])
    by_line = {"id": order["id"], "Details": [{"LineNbr": {"value": 2}, "OrderQty": {"value": 7}}]}
    updated = api.put("SalesOrder", by_line, **{"$expand": "Details"}).json()
    assert [value(line, "OrderQty") for line in updated["Details"]] == [1.0, 7.0]


def test_order_with_a_shipment_cannot_be_deleted(api: Api) -> None:
    order = api.order()
    api.action(
        "SalesOrder", "SalesOrderCreateShipment", {"id": order["id"]}, WarehouseID="WHOLESALE"
    )
    response = api.delete(f"SalesOrder/{order['id']}")
    assert (
        response.status_code == 500 and "cannot be deleted" in response.json()["exceptionMessage"]
    )
    assert api.get(f"SalesOrder/{order['id']}").status_code == 200


def test_concurrent_puts_get_distinct_numbers(api: Api) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=8) as pool:
        orders = list(pool.map(lambda n: api.order(CustomerOrder=f"C-{n}"), range(24)))
    numbers = {value(o, "OrderNbr") for o in orders}
    assert len(numbers) == 24
    assert len(api.get("SalesOrder", **{"$select": "OrderNbr"}).json()) == 24
