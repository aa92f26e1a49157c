from __future__ import annotations

import threading

import pytest
import requests

from .conftest import NY_ADDRESS, checkout_body


def _surcharge(order, kind):
    return sum(s["value"] for s in order["surcharges"] if s["type"] == kind)


def test_checkout_answers_201_with_the_order_as_get_returns_it(api):
    answer = api.client.post("/_sandbox/checkout", json=checkout_body())
    assert answer.status_code == 201
    placed = answer.get_json()
    assert api.get(f"/api/orders/{placed['id']}").get_json() == placed


def test_totals_are_subtotal_plus_shipping_tax_and_discount(api):
    order = api.checkout(items=[{"sku": "AA-0001", "amount": 2}], coupon="SAVE10")
    price = api.product_by_sku("AA-0001")["price"]
    assert order["sub_total"] == round(price * 2, 2)
    discount = _surcharge(order, "discount")
    assert discount == -round(order["sub_total"] * 0.10, 2)
    assert _surcharge(order, "shipping") == 7.5
    tax = _surcharge(order, "tax")
    assert tax == round((order["sub_total"] + discount) * 0.08875, 2)
    assert order["total"] == round(order["sub_total"] + discount + 7.5 + tax, 2)
    assert order["surcharges"][0]["code"] == "SHIPPING"
    assert sum(i["discounted_subtotal"] for i in order["items"]) == pytest.approx(
        order["sub_total"] + discount
    )


def test_state_without_tax_rate_has_no_tax_surcharge(api):
    address = {**NY_ADDRESS, "state_code": "OR", "city": "Portland", "zipcode": "97201"}
    order = api.checkout(billing_address=address, shipping_address=address)
    assert _surcharge(order, "tax") == 0
    assert not any(s["type"] == "tax" for s in order["surcharges"])


def test_state_code_becomes_the_numeric_state_id(api, client):
    order = api.checkout()
    states = client.get("/_sandbox/states").get_json()
    ny = next(s for s in states if s["country_code"] == "US" and s["code"] == "NY")
    assert order["billing_address"]["state"] == ny["id"]
    assert order["shipping_address"]["state"] == ny["id"]


def test_stock_is_decremented_and_overselling_refused(api):
    stock = api.product_by_sku("AA-0002")["amount"]
    api.checkout(items=[{"sku": "AA-0002", "amount": stock}])
    assert api.product_by_sku("AA-0002")["amount"] == 0
    answer = api.client.post(
        "/_sandbox/checkout", json=checkout_body(items=[{"sku": "AA-0002", "amount": 1}])
    )
    assert answer.status_code == 400
    assert answer.get_json()["field"] == "items[0].amount"
    assert "not enough stock" in answer.get_json()["error"]
    assert "AA-0002" in answer.get_json()["error"]


def test_variant_stock_is_used_for_variant_skus(api):
    order = api.checkout(items=[{"sku": "WEB-TEE-M", "amount": 2}])
    tee = api.product_by_sku("WEB-TEE")
    variants = api.get(f"/api/products/{tee['id']}/variants").get_json()
    assert next(v for v in variants if v["sku"] == "WEB-TEE-M")["amount"] == 18
    assert order["items"][0]["variant"] is not None
    assert order["items"][0]["product_id"] == tee["id"]


@pytest.mark.parametrize(
    ("overrides", "field", "named"),
    [
        ({"items": [{"sku": "NO-SUCH-SKU", "amount": 1}]}, "items[0].sku", "NO-SUCH-SKU"),
        ({"payment_method": "Bitcoin"}, "payment_method", "Bitcoin"),
        ({"currency": "JPY"}, "currency", "JPY"),
        ({"email": "nope"}, "email", "e-mail"),
        ({"items": []}, "items", "non-empty"),
        ({"items": [{"sku": "AA-0001", "amount": 0}]}, "items[0].amount", ">= 1"),
        ({"coupon": "BOGUS"}, "coupon", "BOGUS"),
        ({"shipping_cost": -1}, "shipping_cost", ">= 0"),
        ({"billing_address": {**NY_ADDRESS, "state_code": "ZZ"}}, "billing_address", "ZZ"),
        (
            {"billing_address": {k: v for k, v in NY_ADDRESS.items() if k != "city"}},
            "billing_address",
            "city",
        ),
        ({"items": [{"sku": "WEB-SAMPLE", "amount": 1}]}, "items[0].sku", "not available"),
    ],
)
def test_bad_checkout_is_400_naming_the_field(api, overrides, field, named):
    answer = api.client.post("/_sandbox/checkout", json=checkout_body(**overrides))
    assert answer.status_code == 400
    body = answer.get_json()
    assert body["field"] == field
    assert named in body["error"]
    assert api.get("/api/orders").get_json() == []


@pytest.mark.parametrize(
    ("method", "action", "status", "txn_type"),
    [
        ("Credit Card", "sale", "P", "sale"),
        ("Credit Card", "auth", "A", "auth"),
        ("PayPal", "sale", "P", "sale"),
        ("Check", "sale", "Q", "sale"),
        ("Cash on delivery", "sale", "Q", "sale"),
    ],
)
def test_payment_method_sets_status_and_transaction(api, method, action, status, txn_type):
    order = api.checkout(payment_method=method, payment_action=action)
    assert order["payment_status"]["code"] == status
    assert order["shipping_status"]["code"] == "N"
    txns = api.get(f"/api/orders/{order['id']}/payment_transactions").get_json()
    assert len(txns) == 1
    assert txns[0]["type"] == txn_type
    assert txns[0]["local_name"] == method
    assert txns[0]["value"] == order["total"]
    assert txns[0]["currency"] == "USD"


def test_canadian_order_in_cad(api):
    address = {
        **NY_ADDRESS,
        "country_code": "CA",
        "state_code": "ON",
        "city": "Toronto",
        "zipcode": "M5V 2T6",
    }
    order = api.checkout(currency="CAD", billing_address=address, shipping_address=address)
    assert order["currency"] == "CAD"
    assert _surcharge(order, "tax") == round(order["sub_total"] * 0.13, 2)


def test_profile_is_created_once_and_reused_by_email(api):
    first = api.checkout(email="repeat@example.com")
    second = api.checkout(email="repeat@example.com")
    assert first["customer_id"] == second["customer_id"]
    assert first["order_profile_id"] != second["order_profile_id"]
    matches = api.get("/api/profiles?login=repeat@").get_json()
    assert len(matches) == 1
    seeded = api.get("/api/profiles?login=customer001").get_json()[0]
    assert api.checkout(email=seeded["login"])["customer_id"] == seeded["id"]


def test_guest_checkout_profile_is_switchable(api):
    assert api.checkout(email="guest1@example.com", guest=True)["customer_id"] is not None
    api.config(guest_customer_profile=False)
    assert api.checkout(email="guest2@example.com", guest=True)["customer_id"] is None


def test_separate_shipping_address_and_notes(api):
    ship = {**NY_ADDRESS, "street": "9 Other Ave", "firstname": "Zoë"}
    order = api.checkout(shipping_address=ship, notes='Leave at "back" door, it\'s fine')
    assert order["billing_address"]["id"] != order["shipping_address"]["id"]
    assert order["billing_address"]["is_billing"] and order["shipping_address"]["is_shipping"]
    assert order["shipping_address"]["firstname"] == "Zoë"
    assert order["notes"] == 'Leave at "back" door, it\'s fine'


def test_hard_value_skus_and_zero_price_lines(api):
    order = api.checkout(items=[{"sku": "O'NEIL/42", "amount": 1}, {"sku": "AA-FREE", "amount": 3}])
    assert [i["sku"] for i in order["items"]] == ["O'NEIL/42", "AA-FREE"]
    assert order["items"][1]["price"] == 0.0


def test_concurrent_checkouts_never_drive_stock_negative(api, server):
    product = api.product_by_sku("AA-0003")
    api.put(f"/api/products/{product['id']}", json={"amount": 20})
    body = checkout_body(items=[{"sku": "AA-0003", "amount": 1}])
    statuses: list[int] = []
    lock = threading.Lock()

    def buy() -> None:
        with requests.Session() as session:
            for _ in range(4):
                code = session.post(
                    f"{server.url}/_sandbox/checkout", json=body, timeout=10
                ).status_code
                with lock:
                    statuses.append(code)

    threads = [threading.Thread(target=buy) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses.count(201) == 20
    assert statuses.count(400) == 12
    assert api.product_by_sku("AA-0003")["amount"] == 0
    assert len(api.get("/api/orders?itemsPerPage=100").get_json()) == 20
