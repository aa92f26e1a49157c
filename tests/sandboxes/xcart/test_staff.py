from __future__ import annotations

from .conftest import checkout_body


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


def test_refunds_in_parts_end_refunded_once_everything_paid_is_back(api):
    order = api.checkout()
    first = round(order["total"] / 3, 2)
    api.client.post(f"/_sandbox/orders/{order['id']}/refund", json={"amount": first})
    rest = round(order["total"] - first, 2)
    refunded = api.client.post(f"/_sandbox/orders/{order['id']}/refund", json={"amount": rest})
    assert refunded.get_json()["payment_status"]["code"] == "R"
    txn = api.get(f"/api/orders/{order['id']}/payment_transactions").get_json()[0]
    assert [(b["type"], b["value"]) for b in txn["backend_transactions"]] == [
        ("refundPart", first), ("refundPart", rest)
    ]  # fmt: skip
    nothing_left = api.client.post(f"/_sandbox/orders/{order['id']}/refund", json={"amount": 1})
    assert nothing_left.status_code == 400 and nothing_left.get_json()["field"] == "amount"


def test_only_a_captured_payment_can_be_refunded_and_a_cancelled_order_stays_cancelled(api):
    authorised = api.checkout(payment_action="auth")
    refused = api.client.post(f"/_sandbox/orders/{authorised['id']}/refund", json={})
    assert refused.status_code == 400 and refused.get_json()["field"] == "transaction"
    cancelled = api.checkout()
    api.client.post(f"/_sandbox/orders/{cancelled['id']}/cancel", json={})
    part = api.client.post(f"/_sandbox/orders/{cancelled['id']}/refund", json={"amount": 1.0})
    assert part.get_json()["payment_status"]["code"] == "C"
    full = api.client.post(f"/_sandbox/orders/{cancelled['id']}/refund", json={})
    assert full.get_json()["payment_status"]["code"] == "R"


def test_the_multi_currency_add_on_records_the_currency_shown_and_its_rate(api):
    order = api.checkout(currency="EUR", selected_currency={"code": "USD", "rate": 1.0825})
    assert order["currency"] == "EUR"
    assert order["selected_multi_currency"] == "USD"
    assert order["selected_multi_currency_rate"] == 1.0825
    bad = api.client.post(
        "/_sandbox/checkout",
        json={**checkout_body(), "selected_currency": {"code": "USD", "rate": 0}},
    )
    assert bad.status_code == 400 and bad.get_json()["field"] == "selected_currency"


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
