from __future__ import annotations

import re
from datetime import UTC, datetime
from urllib.parse import quote

import pytest

from sandboxes.xcart.serializers import ORDER_KEYS

ORDER_DATE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+0000$")
# The core fields of reference §2.5, written out so a change to ORDER_KEYS cannot hide a drift.
CORE_ORDER_FIELDS = {
    "id", "order_number", "total", "sub_total", "currency", "email", "create_date",
    "update_date", "payment_status", "shipping_status", "customer_id", "order_profile_id",
    "billing_address", "shipping_address", "shipping_id", "shipping_method_name", "notes",
    "admin_notes", "stock_status", "items", "surcharges", "tracking_numbers",
}  # fmt: skip
ITEM_FIELDS = {
    "id", "product_id", "sku", "name", "price", "item_net_price", "discounted_subtotal",
    "amount", "backordered_amount", "update_date", "surcharges", "variant",
}  # fmt: skip


def test_order_key_set_equals_reference_core_fields(api):
    order = api.checkout()
    fetched = api.get(f"/api/orders/{order['id']}").get_json()
    assert set(fetched) == CORE_ORDER_FIELDS
    assert set(ORDER_KEYS) == CORE_ORDER_FIELDS
    assert set(fetched["items"][0]) == ITEM_FIELDS


def test_order_field_types_and_formats(api):
    order = api.get(f"/api/orders/{api.checkout()['id']}").get_json()
    assert isinstance(order["id"], int)
    assert isinstance(order["order_number"], str)
    assert str(order["id"]) != order["order_number"]
    assert ORDER_DATE.match(order["create_date"])
    assert ORDER_DATE.match(order["update_date"])
    assert ORDER_DATE.match(order["items"][0]["update_date"])
    assert order["payment_status"] == {
        "id": 4,
        "code": "P",
        "name": "Paid",
        "customer_name": "Paid",
    }
    assert order["shipping_status"]["code"] == "N"
    assert isinstance(order["billing_address"]["state"], int)
    assert order["items"][0]["amount"] == 2
    assert isinstance(order["total"], float)


def test_by_number_finds_the_order(api):
    order = api.checkout()
    found = api.get(f"/api/orders/by_number/{order['order_number']}").get_json()
    assert found["id"] == order["id"]
    assert api.get("/api/orders/by_number/nope").status_code == 404


def _ids(api, query: str) -> list[int]:
    answer = api.get(f"/api/orders?{query}")
    assert answer.status_code == 200, answer.get_json()
    return [o["id"] for o in answer.get_json()]


def _stamp(api) -> int:
    return api.client.get("/_sandbox/clock").get_json()["now"]


def _ts(value: str) -> int:
    return int(datetime.strptime(value, "%Y-%m-%dT%H:%M:%S%z").timestamp())


@pytest.fixture
def three_orders(api):
    """Three orders one minute apart; returns their ids and creation timestamps."""
    made = []
    for _ in range(3):
        order = api.checkout()
        made.append((order["id"], _ts(order["create_date"])))
        api.advance_clock(60)
    return made


def test_date_after_is_inclusive_and_strictly_after_is_not(api, three_orders):
    (_, t1), (id2, t2), (id3, _) = three_orders
    assert _ids(api, f"date[after]=@{t2}") == [id2, id3]
    assert _ids(api, f"date[strictly_after]=@{t2}") == [id3]
    assert _ids(api, f"date[before]=@{t2}")[-1] == id2
    assert id2 not in _ids(api, f"date[strictly_before]=@{t2}")
    iso = quote(datetime.fromtimestamp(t2, UTC).strftime("%Y-%m-%dT%H:%M:%S+0000"))
    assert _ids(api, f"date[after]={iso}") == [id2, id3]
    assert _ids(api, f"date[after]=@{t1}&date[strictly_before]=@{t2}") == [three_orders[0][0]]


def test_unparsable_date_filter_returns_the_unfiltered_list(api, three_orders):
    everything = _ids(api, "")
    assert _ids(api, "date[after]=not-a-date") == everything
    assert _ids(api, "lastRenewDate[after]=yesterday-ish") == everything
    assert len(everything) == 3


def test_last_renew_date_filter_follows_status_changes(api, three_orders):
    (id1, _), _, _ = three_orders
    api.advance_clock(60)
    mark = _stamp(api)
    api.put(f"/api/orders/{id1}/shipping_status", json={"code": "P"})
    renewed = _ts(api.get(f"/api/orders/{id1}").get_json()["update_date"])
    assert renewed >= mark
    assert _ids(api, f"lastRenewDate[after]=@{mark}") == [id1]
    assert _ids(api, f"lastRenewDate[after]=@{renewed}") == [id1]
    assert _ids(api, f"lastRenewDate[strictly_after]=@{renewed}") == []


def test_switch_turns_the_last_renew_date_filter_off(api, three_orders):
    (_, _), (_, t2), _ = three_orders
    api.config(last_renew_filter=False)
    assert len(_ids(api, f"lastRenewDate[after]=@{t2}")) == 3
    assert len(_ids(api, f"date[after]=@{t2}")) == 2


def test_sort_by_last_renew_date_desc(api, three_orders):
    (id1, _), (id2, _), (id3, _) = three_orders
    api.put(f"/api/orders/{id1}/shipping_status", json={"code": "P"})
    assert _ids(api, "order[lastRenewDate]=desc") == [id1, id3, id2]
    assert _ids(api, "order[date]=desc") == [id3, id2, id1]
    assert _ids(api, "order[date]=asc") == [id1, id2, id3]


def test_status_code_filters_scalar_and_list(api):
    paid = api.checkout()["id"]
    queued = api.checkout(payment_method="Check")["id"]
    authorized = api.checkout(payment_action="auth")["id"]
    api.put(f"/api/orders/{paid}/shipping_status", json={"code": "S"})
    assert _ids(api, "paymentStatus.code=Q") == [queued]
    assert _ids(api, "paymentStatus.code[]=Q&paymentStatus.code[]=A") == [queued, authorized]
    assert _ids(api, "shippingStatus.code=S") == [paid]


def test_profile_login_filter_is_a_substring_match(api):
    mine = api.checkout(email="zoe.angstrom@example.org")["id"]
    api.checkout(email="other@example.com")
    assert _ids(api, "profile.login=angstrom") == [mine]
    assert _ids(api, "profile.login=ANGSTROM@example") == [mine]
    assert _ids(api, "profile.login=%25") == []


def test_addon_keys_appear_only_when_enabled(api):
    order_id = api.checkout(coupon="SAVE10")["id"]
    assert "used_coupons" not in api.get(f"/api/orders/{order_id}").get_json()
    api.config(addon_keys=True)
    order = api.get(f"/api/orders/{order_id}").get_json()
    assert {"used_coupons", "gross_profit", "mobile_order"} <= set(order)
    assert order["used_coupons"][0]["code"] == "SAVE10"


def test_transaction_status_carries_the_method_name_behind_a_flag(api):
    order_id = api.checkout()["id"]
    txn = api.get(f"/api/orders/{order_id}/payment_transactions").get_json()[0]
    assert txn["status"] == txn["name"] == "AuthorizeNet SIM"
    assert txn["local_name"] == "Credit Card"
    assert txn["type"] == "sale"
    assert ORDER_DATE.match(txn["date"])
    api.config(transaction_status_quirk=False)
    assert api.get(f"/api/orders/{order_id}/payment_transactions").get_json()[0]["status"] == "S"


def test_orders_have_no_tracking_endpoint_unless_the_extension_is_on(api):
    order_id = api.checkout()["id"]
    assert (
        api.post(f"/api/orders/{order_id}/tracking_numbers", json={"value": "1Z"}).status_code
        == 404
    )
    api.config(tracking_extension=True)
    before = api.get(f"/api/orders/{order_id}").get_json()
    api.advance_clock(30)
    answer = api.post(f"/api/orders/{order_id}/tracking_numbers", json={"value": "1Z999AA1"})
    assert answer.status_code == 201
    assert answer.get_json()["value"] == "1Z999AA1"
    after = api.get(f"/api/orders/{order_id}").get_json()
    assert [t["value"] for t in after["tracking_numbers"]] == ["1Z999AA1"]
    assert ORDER_DATE.match(after["tracking_numbers"][0]["date"])
    assert after["update_date"] == before["update_date"]


def test_tracking_can_be_made_to_move_update_date(api):
    order_id = api.checkout()["id"]
    api.config(tracking_extension=True, bump_update_date_on_tracking=True)
    before = api.get(f"/api/orders/{order_id}").get_json()["update_date"]
    api.advance_clock(30)
    api.post(f"/api/orders/{order_id}/tracking_numbers", json={"value": "T-1"})
    assert api.get(f"/api/orders/{order_id}").get_json()["update_date"] > before


def test_tracking_extension_validates_value_and_read_only_token(api, client):
    order_id = api.checkout()["id"]
    api.config(tracking_extension=True)
    assert api.post(f"/api/orders/{order_id}/tracking_numbers", json={}).status_code == 400
    assert api.post("/api/orders/999/tracking_numbers", json={"value": "x"}).status_code == 404
    answer = client.post(
        f"/api/orders/{order_id}/tracking_numbers",
        json={"value": "x"},
        headers={"X-Auth-Token": "sandbox-ro"},
    )
    assert answer.status_code == 403


def test_history_and_details_are_collections(api):
    order_id = api.checkout()["id"]
    api.put(f"/api/orders/{order_id}/payment_status", json={"code": "R"})
    history = api.get(f"/api/orders/{order_id}/history").get_json()
    assert [h["code"] for h in history] == ["PLACE ORDER", "CHANGE PAYMENT STATUS ORDER"]
    assert api.get(f"/api/orders/{order_id}/details").get_json() == []
    assert api.get("/api/orders/999/history").status_code == 404
