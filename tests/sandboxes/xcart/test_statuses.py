from __future__ import annotations

import pytest


def test_shipping_status_put_answers_the_status_object_and_moves_update_date(api):
    order = api.checkout()
    api.advance_clock(5)
    answer = api.put(f"/api/orders/{order['id']}/shipping_status", json={"code": "S"})
    assert answer.status_code == 200
    assert answer.get_json() == {
        "id": 3,
        "code": "S",
        "name": "Shipped",
        "customer_name": "Shipped",
    }
    after = api.get(f"/api/orders/{order['id']}").get_json()
    assert after["shipping_status"]["code"] == "S"
    assert after["update_date"] > order["update_date"]
    events = api.get(f"/api/orders/{order['id']}/history").get_json()
    assert events[-1]["code"] == "CHANGE SHIPPING STATUS ORDER"


def test_get_status_answers_current_status(api):
    order = api.checkout(payment_method="Check")
    assert api.get(f"/api/orders/{order['id']}/payment_status").get_json()["code"] == "Q"
    assert api.get(f"/api/orders/{order['id']}/shipping_status.jsonld").get_json()["code"] == "N"


@pytest.mark.parametrize("kind", ["shipping_status", "payment_status"])
def test_status_on_unknown_order_is_400_with_reference_text(api, kind):
    for answer in (
        api.put(f"/api/orders/999/{kind}", json={"code": "S"}),
        api.get(f"/api/orders/999/{kind}"),
    ):
        assert answer.status_code == 400
        assert answer.get_json()["detail"] == "Order with ID 999 not found"


def test_bad_codes_are_400_with_differently_worded_messages(api):
    order_id = api.checkout()["id"]
    ship = api.put(f"/api/orders/{order_id}/shipping_status", json={"code": "XX"})
    pay = api.put(f"/api/orders/{order_id}/payment_status", json={"code": "XX"})
    assert (ship.status_code, pay.status_code) == (400, 400)
    assert ship.get_json()["detail"] == "Status code 'XX' is wrong"
    assert pay.get_json()["detail"] == "Status code 'XX' is invalid"
    assert api.put(f"/api/orders/{order_id}/shipping_status", json={}).status_code == 400


def test_setting_the_same_status_does_not_move_update_date(api):
    order = api.checkout()
    api.advance_clock(5)
    api.put(f"/api/orders/{order['id']}/shipping_status", json={"code": "N"})
    assert api.get(f"/api/orders/{order['id']}").get_json()["update_date"] == order["update_date"]


def test_cancelled_payment_returns_stock_once(api):
    before = api.product_by_sku("AA-0001")["amount"]
    order_id = api.checkout(items=[{"sku": "AA-0001", "amount": 3}])["id"]
    assert api.product_by_sku("AA-0001")["amount"] == before - 3
    api.put(f"/api/orders/{order_id}/payment_status", json={"code": "C"})
    assert api.product_by_sku("AA-0001")["amount"] == before
    api.put(f"/api/orders/{order_id}/payment_status", json={"code": "D"})
    assert api.product_by_sku("AA-0001")["amount"] == before
