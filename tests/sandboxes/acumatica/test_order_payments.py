"""A sales order created with its payment in one PUT; refunds; currencies and rates."""

from __future__ import annotations

from typing import Any

import requests

from .client import Api, value


def payment_row(**fields: Any) -> dict[str, Any]:
    row = {
        "DocType": "Prepayment",
        "PaymentMethod": "CREDITCARD",
        "CashAccount": "10250ST",
        "PaymentRef": "XC-9001",
        "PaymentAmount": 20.0,
        "AppliedToOrder": 20.0,
        **fields,
    }
    return {k: {"value": v} for k, v in row.items()}


def order_body(*rows: dict[str, Any], **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "CustomerID": {"value": "XCGUEST"},
        "CustomerOrder": {"value": fields.pop("CustomerOrder", "WEB-1")},
        "Details": [
            {
                "InventoryID": {"value": "AA-0001"},
                "OrderQty": {"value": 1},
                "UnitPrice": {"value": 20.0},
            }
        ],
        "Payments": list(rows),
    }
    body.update({k: {"value": v} for k, v in fields.items()})
    return body


def orders_by_customer_order(api: Api, number: str) -> list[dict]:
    response = api.get("SalesOrder", **{"$filter": f"CustomerOrder eq '{number}'"})
    assert response.status_code == 200, response.text
    return response.json()


def payments_by_ref(api: Api, ref: str) -> list[dict]:
    response = api.get(
        "Payment", **{"$filter": f"PaymentRef eq '{ref}'", "$expand": "OrdersToApply"}
    )
    assert response.status_code == 200, response.text
    return response.json()


def test_order_and_its_payment_are_created_in_one_put(api: Api) -> None:
    response = api.put("SalesOrder", order_body(payment_row()), **{"$expand": "Payments,Totals"})

    assert response.status_code == 200, response.text
    order = response.json()
    [row] = order["Payments"]
    nbr = value(row, "ReferenceNbr")
    assert value(row, "DocType") == "Prepayment" and value(row, "Status") == "Balanced"
    assert value(row, "AppliedToOrder") == 20.0 and value(row, "PaymentRef") == "XC-9001"
    assert value(order, "Totals", "UnpaidBalance") == 0.0
    payment = api.get(f"Payment/Prepayment/{nbr}", **{"$expand": "OrdersToApply"}).json()
    assert value(payment, "CustomerID") == "XCGUEST" and value(payment, "CurrencyID") == "USD"
    assert value(payment, "PaymentAmount") == 20.0 and value(payment, "AppliedToOrders") == 20.0
    [applied] = payment["OrdersToApply"]
    assert value(applied, "OrderNbr") == value(order, "OrderNbr")
    again = api.get(f"SalesOrder/{order['id']}", **{"$expand": "Payments"}).json()
    assert value(again["Payments"][0], "ReferenceNbr") == nbr


def test_a_payment_that_cannot_be_created_leaves_no_order(api: Api) -> None:
    bad_method = payment_row(PaymentMethod="BITCOIN", PaymentRef="XC-BAD1")
    too_much = payment_row(AppliedToOrder=25.0, PaymentRef="XC-BAD2")
    charge = payment_row(Capture=True, PaymentRef="XC-BAD3")

    answers = [
        api.put("SalesOrder", order_body(row, CustomerOrder=f"WEB-BAD{i}"))
        for i, row in enumerate((bad_method, too_much, charge))
    ]

    assert [a.status_code for a in answers] == [422, 422, 422]
    first, second, third = (a.json() for a in answers)
    assert first["error"].startswith("Inserting 'Sales Order' record raised at least one error")
    assert "cannot be found" in first["Payments"][0]["PaymentMethod"]["error"]
    assert "exceeds the payment amount" in second["Payments"][0]["AppliedToOrder"]["error"]
    assert (
        "'Proc. Center ID' cannot be empty." in third["Payments"][0]["ProcessingCenterID"]["error"]
    )
    for i in range(3):
        assert orders_by_customer_order(api, f"WEB-BAD{i}") == []
        assert payments_by_ref(api, f"XC-BAD{i + 1}") == []


def test_payments_applied_beyond_the_order_total_are_refused(api: Api) -> None:
    rows = [payment_row(PaymentRef="XC-A"), payment_row(PaymentRef="XC-B", AppliedToOrder=5.0)]
    response = api.put("SalesOrder", order_body(*rows, CustomerOrder="WEB-OVER"))
    assert response.status_code == 422
    assert "exceeds the order total" in response.json()["error"]
    assert orders_by_customer_order(api, "WEB-OVER") == []


def test_combined_put_applied_but_answer_lost_leaves_the_order_and_payment(api: Api) -> None:
    api.control(
        "POST",
        "/faults",
        {"rules": [{"path": "SalesOrder$", "method": "PUT", "preset": 1.0, "after_commit": True}]},
    )
    try:
        try:
            api.put("SalesOrder", order_body(payment_row(PaymentRef="XC-LOST"), CustomerOrder="L1"))
            raise AssertionError("the answer should have been lost")
        except requests.ConnectionError:
            pass
    finally:
        api.control("POST", "/faults", {"rules": []})
    [order] = orders_by_customer_order(api, "L1")
    [payment] = payments_by_ref(api, "XC-LOST")
    assert value(payment["OrdersToApply"][0], "OrderNbr") == value(order, "OrderNbr")


def test_a_cancelled_order_frees_its_payment_and_a_refund_pays_it_back(api: Api) -> None:
    order = api.put(
        "SalesOrder", order_body(payment_row(PaymentRef="XC-R1"), CustomerOrder="RF1"),
        **{"$expand": "Payments"},
    ).json()  # fmt: skip
    nbr = value(order["Payments"][0], "ReferenceNbr")
    keys = {"Type": {"value": "Prepayment"}, "ReferenceNbr": {"value": nbr}}
    refund = {
        "Type": {"value": "Refund"},
        "CustomerID": {"value": "XCGUEST"},
        "PaymentMethod": {"value": "CREDITCARD"},
        "CashAccount": {"value": "10250ST"},
        "PaymentRef": {"value": "XC-RR1"},
        "PaymentAmount": {"value": 20.0},
        "DocumentsToApply": [
            {
                "DocType": {"value": "PPM"},
                "ReferenceNbr": {"value": nbr},
                "AmountPaid": {"value": 20.0},
            }
        ],
    }
    unreleased = api.put("Payment", refund)
    assert unreleased.status_code == 422  # only released documents can be refunded
    row = unreleased.json()["DocumentsToApply"][0]
    assert row["ReferenceNbr"]["error"] == "'Reference Nbr.' cannot be found in the system."

    api.action("SalesOrder", "CancelSalesOrder", {"id": order["id"]})
    freed = api.get(f"Payment/Prepayment/{nbr}", **{"$expand": "OrdersToApply"}).json()
    assert value(freed["OrdersToApply"][0], "AppliedToOrder") == 0.0
    assert value(freed, "AvailableBalance") == 20.0
    assert api.action("Payment", "ReleasePayment", keys).status_code == 204
    assert value(api.get(f"Payment/Prepayment/{nbr}").json(), "Status") == "Open"

    too_much = {**refund, "PaymentAmount": {"value": 25.0}}
    too_much["DocumentsToApply"] = [
        {**refund["DocumentsToApply"][0], "AmountPaid": {"value": 25.0}}
    ]
    assert api.put("Payment", too_much).status_code == 422
    made = api.put("Payment", refund, **{"$expand": "DocumentsToApply"})
    assert made.status_code == 200, made.text
    made_json = made.json()
    assert value(made_json, "Type") == "Refund" and value(made_json, "Status") == "Balanced"
    assert value(made_json["DocumentsToApply"][0], "DocType") == "Prepayment"
    paid_back = api.get(f"Payment/Prepayment/{nbr}").json()
    assert value(paid_back, "AvailableBalance") == 0.0 and value(paid_back, "Status") == "Closed"

    refund_keys = {"Type": {"value": "Refund"}, "ReferenceNbr": made_json["ReferenceNbr"]}
    assert api.action("Payment", "VoidPayment", refund_keys).status_code == 204
    restored = api.get(f"Payment/Prepayment/{nbr}").json()
    assert value(restored, "AvailableBalance") == 20.0 and value(restored, "Status") == "Open"


def test_a_released_payment_reservation_can_be_reduced_not_its_amount(api: Api) -> None:
    order = api.put(
        "SalesOrder", order_body(payment_row(PaymentRef="XC-RED"), CustomerOrder="RED1"),
        **{"$expand": "Payments"},
    ).json()  # fmt: skip
    nbr = value(order["Payments"][0], "ReferenceNbr")
    keys = {"Type": {"value": "Prepayment"}, "ReferenceNbr": {"value": nbr}}
    api.action("Payment", "ReleasePayment", keys)
    payment = api.get(f"Payment/Prepayment/{nbr}", **{"$expand": "OrdersToApply"}).json()
    assert value(payment, "Status") == "Closed"
    row_id = payment["OrdersToApply"][0]["id"]

    reduced = api.put(
        "Payment",
        {**keys, "OrdersToApply": [{"id": row_id, "AppliedToOrder": {"value": 12.0}}]},
    )
    changed_amount = api.put("Payment", {**keys, "PaymentAmount": {"value": 5.0}})

    assert reduced.status_code == 200, reduced.text
    assert value(reduced.json(), "Status") == "Open"
    assert value(reduced.json(), "AvailableBalance") == 8.0
    assert changed_amount.status_code == 422
    seen = api.get(f"SalesOrder/{order['id']}", **{"$expand": "Totals"}).json()
    assert value(seen, "Totals", "UnpaidBalance") == 8.0


def test_an_order_in_another_currency_takes_the_rate_sent_or_the_tenants(api: Api) -> None:
    tenant = api.put("SalesOrder", order_body(CurrencyID="EUR", CustomerOrder="EUR1")).json()
    store = api.put(
        "SalesOrder", order_body(CurrencyID="EUR", CurrencyRate=1.1, CustomerOrder="EUR2")
    ).json()
    base = api.put("SalesOrder", order_body(CurrencyRate=1.3, CustomerOrder="USD1")).json()
    unknown = api.put("SalesOrder", order_body(CurrencyID="CHF", CustomerOrder="CHF1"))

    assert value(tenant, "CurrencyRate") == 1.0825 and value(tenant, "CurrencyRateTypeID") == "SPOT"
    assert value(store, "CurrencyRate") == 1.1
    assert abs(value(store, "ReciprocalRate") - 1 / 1.1) < 1e-8
    assert value(base, "CurrencyRate") == 1.0 and value(base, "BaseCurrencyID") == "USD"
    assert unknown.status_code == 422
    assert unknown.json()["CurrencyID"]["error"] == "'Currency' cannot be found in the system."


def test_a_payment_in_another_currency_than_its_order_is_refused(api: Api) -> None:
    order = api.put("SalesOrder", order_body(CurrencyID="EUR", CustomerOrder="EUR3")).json()
    body = {
        "Type": {"value": "Prepayment"},
        "CustomerID": {"value": "XCGUEST"},
        "CurrencyID": {"value": "USD"},
        "PaymentAmount": {"value": 5.0},
        "OrdersToApply": [{"OrderType": {"value": "SO"}, "OrderNbr": order["OrderNbr"]}],
    }
    response = api.put("Payment", body)
    assert response.status_code == 422
    assert "currency" in response.json()["OrdersToApply"][0]["OrderNbr"]["error"]
    with_order = api.put(
        "SalesOrder",
        order_body(payment_row(PaymentRef="XC-EUR"), CurrencyID="EUR", CustomerOrder="EUR4"),
        **{"$expand": "Payments"},
    )
    assert with_order.status_code == 200, with_order.text
    assert value(with_order.json()["Payments"][0], "Currency") == "EUR"
