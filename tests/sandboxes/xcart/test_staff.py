from __future__ import annotations


def test_cancel_sets_payment_cancelled_returns_stock_and_moves_update_date(api):
    before = api.product_by_sku("AA-0001")["amount"]
    order = api.checkout()
    api.advance_clock(5)
    cancelled = api.client.post(f"/_sandbox/orders/{order['id']}/cancel", json={}).get_json()
    assert cancelled["payment_status"]["code"] == "C"
    assert cancelled["update_date"] > order["update_date"]
    assert api.product_by_sku("AA-0001")["amount"] == before


def test_full_refund_records_a_backend_transaction(api):
    order = api.checkout()
    refunded = api.client.post(f"/_sandbox/orders/{order['id']}/refund", json={}).get_json()
    assert refunded["payment_status"]["code"] == "R"
    txn = api.get(f"/api/orders/{order['id']}/payment_transactions").get_json()[0]
    assert txn["backend_transactions"][0]["type"] == "refund"
    assert txn["backend_transactions"][0]["value"] == order["total"]


def test_partial_refund_is_partially_paid(api):
    order = api.checkout()
    refunded = api.client.post(f"/_sandbox/orders/{order['id']}/refund", json={"amount": 1.0})
    assert refunded.get_json()["payment_status"]["code"] == "PP"
    too_much = api.client.post(
        f"/_sandbox/orders/{order['id']}/refund", json={"amount": order["total"] + 1}
    )
    assert too_much.status_code == 400
    assert too_much.get_json()["field"] == "amount"


def test_staff_edit_moves_update_date_and_keeps_history(api):
    order = api.checkout(items=[{"sku": "AA-0001", "amount": 2}, {"sku": "AA-0004", "amount": 1}])
    stock = api.product_by_sku("AA-0004")["amount"]
    api.advance_clock(5)
    edited = api.client.post(
        f"/_sandbox/orders/{order['id']}/edit",
        json={
            "admin_notes": "Customer called; removed AA-0004",
            "items": [{"sku": "AA-0004", "amount": 0}],
            "shipping_address": {"street": "77 New St"},
        },
    ).get_json()
    assert edited["update_date"] > order["update_date"]
    assert edited["admin_notes"].startswith("Customer called")
    assert [i["sku"] for i in edited["items"]] == ["AA-0001"]
    assert edited["shipping_address"]["street"] == "77 New St"
    assert edited["sub_total"] == order["items"][0]["price"] * 2
    assert api.product_by_sku("AA-0004")["amount"] == stock + 1
    history = api.get(f"/api/orders/{order['id']}/history").get_json()
    assert history[-1]["code"] == "ORDER EDITED"


def test_staff_actions_on_unknown_orders_are_404(api):
    for action in ("cancel", "refund", "edit"):
        assert api.client.post(f"/_sandbox/orders/999/{action}", json={}).status_code == 404
