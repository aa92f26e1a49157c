"""X-Cart order -> SalesOrder: pure transformation, checked with plain data."""

from __future__ import annotations

import copy

import pytest

from sync_workers.errors import PermanentError
from sync_workers.mapping import addresses
from sync_workers.mapping import orders as order_map
from sync_workers.mapping.templates import load_template

ORDER = {
    "id": 1042,
    "order_number": "1042",
    "total": 57.19,
    "sub_total": 49.98,
    "currency": "cad",
    "email": "jane@example.com",
    "create_date": "2026-01-15T23:20:11-0500",
    "payment_status": {"code": "P"},
    "customer_id": 17,
    "billing_address": {
        "firstname": "Zoë", "lastname": "O'Brien", "phone": "(555) 123-4567",
        "street": "1 Main St", "zipcode": "10001", "city": "New York", "country_code": "us",
        "state": 39, "state_name": "",
    },
    "shipping_address": {
        "firstname": "Jean", "lastname": 'Côté "JC"', "phone": "+1 514 555 0000",
        "street": "9 Rue Sainte-Catherine", "zipcode": "H2X 1Z4", "city": "Montréal",
        "country_code": "CA", "state": None, "state_name": "Québec",
    },
    "shipping_method_name": "courier",
    "notes": "Leave it at Renée's door",
    "items": [
        {"sku": "AA-0001", "name": "Mug", "price": 10.0, "amount": 2, "discounted_subtotal": 18.0},
        {"sku": "O'NEIL/42", "name": "Tee", "price": 29.98, "amount": 1,
         "discounted_subtotal": 26.98},
    ],
    "surcharges": [
        {"type": "shipping", "value": 7.5},
        {"type": "tax", "value": 4.71},
        {"type": "discount", "value": -5.0},
    ],
}  # fmt: skip


@pytest.fixture
def template() -> dict:
    tmpl = load_template("orders")
    tmpl["tax"]["tax_id_by_region"]["CA-QC"] = "EUVAT"
    return tmpl


def test_customer_order_is_exactly_the_order_number_unless_a_prefix_is_configured(template):
    assert order_map.customer_order(ORDER, template) == "1042"
    template["customer_order"]["prefix"] = "XC-"
    assert order_map.customer_order(ORDER, template) == "XC-1042"


def test_sales_order_carries_lines_freight_tax_currency_and_addresses(template):
    so = order_map.to_sales_order(ORDER, template, customer_id="XC17")

    assert so["CustomerOrder"] == "1042" and so["CustomerID"] == "XC17"
    assert so["CurrencyID"] == "CAD"
    assert so["Date"] == "2026-01-16"  # 23:20 at -05:00 is the 16th in UTC
    assert so["Details"] == [
        {"InventoryID": "AA-0001", "OrderQty": 2, "UnitPrice": 10.0, "ManualPrice": True,
         "DiscountAmount": 2.0, "ManualDiscount": True, "LineDescription": "Mug",
         "WarehouseID": "RETAIL"},
        {"InventoryID": "O'NEIL/42", "OrderQty": 1, "UnitPrice": 29.98, "ManualPrice": True,
         "DiscountAmount": 3.0, "ManualDiscount": True, "LineDescription": "Tee",
         "WarehouseID": "RETAIL"},
    ]  # fmt: skip
    assert so["Totals"] == {"Freight": 7.5, "OverrideFreightAmount": True}
    assert so["TaxDetails"] == [{"TaxID": "EUVAT", "TaxAmount": 4.71, "TaxableAmount": 44.98}]
    assert so["ShipVia"] == "UPS"
    assert so["BillToAddress"] == {
        "AddressLine1": "1 Main St", "City": "New York", "State": "NY", "PostalCode": "10001",
        "Country": "US",
    }  # fmt: skip
    assert so["ShipToAddress"]["State"] == "QC"
    assert so["ShipToContact"] == {
        "Attention": 'Jean Côté "JC"',
        "Phone1": "+15145550000",
        "Email": "jane@example.com",
    }
    assert so["BillToContact"]["Phone1"] == "5551234567"
    assert so["note"] == "Customer notes: Leave it at Renée's door"
    assert so["Hold"] is False


def test_compute_mode_sends_the_tax_id_without_an_amount(template):
    template["tax"]["mode"] = "compute"
    so = order_map.to_sales_order(ORDER, template, customer_id="XC17")
    assert so["TaxDetails"] == [{"TaxID": "EUVAT"}]
    assert order_map.tax_difference(ORDER, 4.80) == order_map.money("0.09")


def test_held_order_names_the_reasons_in_its_note(template):
    so = order_map.to_sales_order(
        ORDER, template, customer_id="XC17", hold_reasons=["billing country US differs (+30)"]
    )
    assert so["Hold"] is True
    assert so["note"].startswith("Held for review: billing country US differs (+30)")


def test_notes_can_go_to_the_description(template):
    template["customer_notes"] = "description"
    so = order_map.to_sales_order(ORDER, template, customer_id="XC17")
    assert so["Description"] == "Leave it at Renée's door"
    assert so["note"] == ""


def test_sku_map_renames_inventory_ids(template):
    template["sku_map"] = {"O'NEIL/42": "ONEIL-42"}
    so = order_map.to_sales_order(ORDER, template, customer_id="XC17")
    assert [d["InventoryID"] for d in so["Details"]] == ["AA-0001", "ONEIL-42"]


@pytest.mark.parametrize(
    ("change", "field", "value"),
    [
        (lambda o: o.update(shipping_method_name="Drone"), "shipping_method_name", "'Drone'"),
        (lambda o: o.update(payment_status={"code": "ZZ"}), "payment_status.code", "'ZZ'"),
        (lambda o: o["shipping_address"].update(state_name="Ontario"), "shipping_address.state",
         "'CA-ON'"),
    ],
)  # fmt: skip
def test_unmapped_value_is_a_permanent_error_naming_the_value(template, change, field, value):
    order = copy.deepcopy(ORDER)
    change(order)
    with pytest.raises(PermanentError) as err:
        order_map.to_sales_order(order, template, customer_id="XC17")
    assert value in err.value.field_errors[field]


@pytest.mark.parametrize(
    ("address", "code"),
    [
        ({"country_code": "US", "state": 11}, "CA"),
        ({"country_code": "US", "state": None, "state_name": "new york"}, "NY"),
        ({"country_code": "CA", "state_name": "Québec"}, "QC"),
        ({"country_code": "CA", "state_name": "qc"}, "QC"),
        ({"country_code": "DE", "state_name": ""}, None),
    ],
)
def test_state_id_or_name_becomes_a_two_letter_code(address, code):
    assert addresses.state_code(address, addresses.state_table({})) == code


def test_store_state_ids_from_the_template_override_the_built_in_table():
    states = addresses.state_table({"addresses": {"state_ids": {9001: "US-TX"}}})
    assert addresses.state_code({"country_code": "US", "state": 9001}, states) == "TX"


def test_edit_changes_only_what_differs_adds_new_lines_and_deletes_dropped_ones():
    current = [
        {
            "id": "a",
            "InventoryID": "AA-0001",
            "OrderQty": 2,
            "UnitPrice": 10.0,
            "DiscountAmount": 0,
        },
        {"id": "b", "InventoryID": "AA-0002", "OrderQty": 1, "UnitPrice": 5.0, "DiscountAmount": 0},
        {"id": "c", "InventoryID": "AA-0003", "OrderQty": 1, "UnitPrice": 7.0, "DiscountAmount": 0},
    ]
    wanted = [
        {"InventoryID": "aa-0001", "OrderQty": 3, "UnitPrice": 10.0, "DiscountAmount": 0.0},
        {"InventoryID": "AA-0003", "OrderQty": 1, "UnitPrice": 7.0, "DiscountAmount": 0.0},
        {"InventoryID": "AA-0009", "OrderQty": 1, "UnitPrice": 1.0, "DiscountAmount": 0.0},
    ]
    assert order_map.line_changes(current, wanted) == [
        {"id": "a", "OrderQty": 3, "ManualPrice": True, "ManualDiscount": True},
        {"InventoryID": "AA-0009", "OrderQty": 1, "UnitPrice": 1.0, "DiscountAmount": 0.0},
        {"id": "b", "delete": True},
    ]
    assert order_map.line_changes(current, [dict(c) for c in current]) == []


def test_an_order_outside_the_base_currency_carries_the_store_rate_when_asked(template):
    assert order_map.currency_fields(ORDER, template) == {"CurrencyID": "CAD"}  # Acumatica's
    template["currency"]["rate"] = "store"
    with_rate = {**ORDER, "selected_multi_currency": "usd", "selected_multi_currency_rate": 0.73}
    assert order_map.currency_fields(with_rate, template) == {
        "CurrencyID": "CAD",
        "CurrencyRate": 0.73,
    }
    assert order_map.currency_fields({**ORDER, "currency": "USD"}, template) == {
        "CurrencyID": "USD"
    }
    with pytest.raises(PermanentError) as err:
        order_map.currency_fields(ORDER, template)
    assert err.value.field_errors == {
        "selected_multi_currency_rate": "no rate from CAD to USD in the order"
    }


def test_a_currency_the_tenant_lacks_is_refused_naming_the_field(template):
    with pytest.raises(PermanentError) as err:
        order_map.currency_fields({**ORDER, "currency": "CHF"}, template)
    assert err.value.field_errors == {"currency": "unknown currency 'CHF'"}
    bad = {**template, "currency": {"rate": "guess", "known": "USD"}}
    problems = order_map.validate_template(bad)
    assert "currency.rate: must be acumatica or store" in problems
    assert "currency.known: must be a list of currency codes" in problems


def test_totals_are_compared_in_the_orders_currency() -> None:
    assert order_map.total_difference(ORDER, 57.19) == 0
    assert str(order_map.total_difference(ORDER, 57.2)) == "0.01"
