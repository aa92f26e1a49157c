"""Payment and shipment mappings: methods, statuses (quirk-tolerant), tracking numbers."""

from __future__ import annotations

import pytest

from sync_workers.errors import PermanentError
from sync_workers.mapping import payments, shipments
from sync_workers.mapping.templates import load_template

TXN = {"id": 77, "name": "AuthorizeNet SIM", "local_name": "Credit Card", "type": "sale",
       "status": "S", "value": 62.49, "currency": "usd", "date": "2026-01-15T16:20:11+0000"}  # fmt: skip


@pytest.fixture
def tmpl() -> dict:
    return load_template("payments")


def test_payment_is_applied_to_the_sales_order_with_a_reference_we_control(tmpl):
    payment = payments.to_payment(
        TXN, tmpl, customer_id="XC17", order_type="SO", order_nbr="000042", order_number="1042"
    )
    assert payment == {
        "Type": "Prepayment", "CustomerID": "XC17", "PaymentMethod": "CREDITCARD",
        "CashAccount": "10250ST", "PaymentRef": "XC-77", "ExternalRef": "77",
        "CurrencyID": "USD", "PaymentAmount": 62.49, "Hold": False,
        "Description": "X-Cart order #1042 transaction 77",
        "OrdersToApply": [{"OrderType": "SO", "OrderNbr": "000042", "AppliedToOrder": 62.49}],
        "ApplicationDate": "2026-01-15",
    }  # fmt: skip


def test_method_is_found_by_service_name_in_any_case(tmpl):
    assert payments.method({"name": "paypalcommerceplatform"}, tmpl)["payment_method"] == "PAYPAL"


def test_unmapped_method_names_the_method(tmpl):
    with pytest.raises(PermanentError) as err:
        payments.method({"local_name": "Purchase Order", "name": "PurchaseOrder"}, tmpl)
    assert err.value.field_errors == {"payment_method": "unmapped payment method 'Purchase Order'"}


@pytest.mark.parametrize(
    ("txn", "order_code", "action"),
    [
        ({"type": "sale", "status": "S"}, "P", "record"),
        ({"type": "auth", "status": "S"}, "A", "hold"),
        ({"type": "sale", "status": "W"}, "Q", "ignore"),
        ({"type": "sale", "status": "Credit Card"}, "P", "record"),  # 5.5.1 quirk
        ({"type": "sale", "status": "Check"}, "Q", "ignore"),  # quirk, offline: not paid yet
        ({"type": "refund", "status": "S"}, "R", "refund"),
        ({"type": "void", "status": "S"}, "C", "ignore"),
    ],
)
def test_transaction_action_tolerates_the_status_quirk(tmpl, txn, order_code, action):
    assert payments.action(txn, order_code, tmpl) == action


def test_unknown_transaction_type_is_permanent(tmpl):
    with pytest.raises(PermanentError):
        payments.action({"type": "chargeback", "status": "S"}, "P", tmpl)


SHIPMENT = {
    "ShipmentNbr": "000007",
    "Status": "Confirmed",
    "Details": [
        {"OrderType": "SO", "OrderNbr": "000042"},
        {"OrderType": "SO", "OrderNbr": "000042"},
        {"OrderType": "SO", "OrderNbr": "000043"},
    ],
    "Packages": [{"TrackingNbr": "1Z1"}, {"TrackingNbr": " "}, {"TrackingNbr": "1Z1"},
                 {"TrackingNbr": "1Z2"}],
}  # fmt: skip


def test_confirmed_shipment_writes_shipped_and_distinct_tracking_numbers_per_order():
    writes = shipments.to_writes(SHIPMENT, load_template("shipments"))
    assert [(w.order_nbr, w.shipping_code, w.tracking_numbers) for w in writes] == [
        ("000042", "S", ("1Z1", "1Z2")),
        ("000043", "S", ("1Z1", "1Z2")),
    ]


def test_open_shipment_writes_nothing_and_unknown_status_is_named():
    tmpl = load_template("shipments")
    assert shipments.to_writes({**SHIPMENT, "Status": "Open"}, tmpl)[0].shipping_code is None
    with pytest.raises(PermanentError) as err:
        shipments.to_writes({**SHIPMENT, "Status": "Lost"}, tmpl)
    assert err.value.field_errors == {"Status": "unmapped shipment status 'Lost'"}


def test_released_payments_covering_the_order_call_for_paid(tmpl):
    so = {"OrderTotal": 100.0, "Payments": [
        {"Status": "Closed", "AppliedToOrder": 60.0},
        {"Status": "Closed", "AppliedToOrder": 40.0},
        {"Status": "Voided", "AppliedToOrder": 100.0},
    ]}  # fmt: skip
    assert payments.xcart_payment_code(so, "Q", tmpl) == "P"
    assert payments.xcart_payment_code(so, "P", tmpl) is None  # already paid: no write
    assert payments.xcart_payment_code(so, "C", tmpl) is None  # cancelled orders are left


def test_partly_covered_order_is_partially_paid_and_unreleased_payments_count_for_nothing(tmpl):
    so = {"OrderTotal": 100.0, "Payments": [{"Status": "Closed", "AppliedToOrder": 30.0}]}
    assert payments.xcart_payment_code(so, "Q", tmpl) == "PP"
    balanced = {"OrderTotal": 100.0, "Payments": [{"Status": "Balanced", "AppliedToOrder": 100}]}
    assert payments.xcart_payment_code(balanced, "Q", tmpl) is None


def test_a_new_orders_payment_is_a_row_of_its_payments_tab(tmpl):
    from decimal import Decimal

    row = payments.to_order_payment(TXN, tmpl, applied=Decimal("60.00"), order_number="1042")
    assert row == {
        "DocType": "Prepayment", "PaymentMethod": "CREDITCARD", "CashAccount": "10250ST",
        "PaymentRef": "XC-77", "ExternalRef": "77", "PaymentAmount": 62.49,
        "AppliedToOrder": 60.0, "Hold": False,
        "Description": "X-Cart order #1042 transaction 77", "ApplicationDate": "2026-01-15",
    }  # fmt: skip
    assert payments.with_order(tmpl) is True
    assert payments.with_order({**tmpl, "with_order": False}) is False


REFUNDED = {
    **TXN,
    "status": "AuthorizeNet SIM",  # X-Cart 5.5.1's quirk: the method name
    "backend_transactions": [
        {"id": 901, "type": "refundPart", "status": "S", "value": 10.0,
         "date": "2026-01-16T10:00:00+0000"},
        {"id": 902, "type": "refundPart", "status": "F", "value": 5.0},
        {"id": 903, "type": "capture", "status": "S", "value": 62.49},
        {"id": 904, "type": "refund", "status": "AuthorizeNet SIM", "value": 52.49},
    ],
}  # fmt: skip


def test_successful_refunds_of_a_transaction_are_found_failed_ones_and_captures_not(tmpl):
    found = payments.refunds_of(REFUNDED, "R", tmpl)
    assert [r["id"] for r in found] == [901, 904]


def test_a_refund_is_applied_to_the_payment_it_pays_back(tmpl):
    refund = payments.to_refund(
        REFUNDED["backend_transactions"][0], REFUNDED, tmpl, customer_id="XC17",
        payment_type="Prepayment", payment_nbr="000045", order_number="1042",
    )  # fmt: skip
    assert refund == {
        "Type": "Refund", "CustomerID": "XC17", "PaymentMethod": "CREDITCARD",
        "CashAccount": "10250ST", "PaymentRef": "XC-R901", "ExternalRef": "901",
        "CurrencyID": "USD", "PaymentAmount": 10.0, "Hold": False,
        "Description": "X-Cart order #1042 refund 901 of transaction 77",
        "DocumentsToApply": [
            {"DocType": "Prepayment", "ReferenceNbr": "000045", "AmountPaid": 10.0}
        ],
        "ApplicationDate": "2026-01-16",
    }  # fmt: skip


def test_the_payments_template_checks_its_refund_settings(tmpl):
    assert payments.validate_template(tmpl) == []
    bad = {**tmpl, "with_order": "yes", "refunds": {"release_payment": "sometimes"}}
    assert payments.validate_template(bad) == [
        "refunds.release_payment: must be true or false",
        "with_order: must be true or false",
    ]
