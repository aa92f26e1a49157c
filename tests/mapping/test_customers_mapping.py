"""Customer mapping: deterministic ids, the customer to create, changes per system of record."""

from __future__ import annotations

from sync_workers.mapping import addresses
from sync_workers.mapping import customers as customer_map
from sync_workers.mapping.templates import load_template
from tests.mapping.test_orders_mapping import ORDER

TEMPLATE = load_template("customers")
STATES = addresses.state_table({})
BILLING = ORDER["billing_address"]


def test_customer_ids_are_deterministic_per_profile_and_per_email():
    assert customer_map.customer_id_for(TEMPLATE, profile_id=17) == "XC17"
    one = customer_map.customer_id_for(TEMPLATE, email="Jane@Example.com ")
    assert one == customer_map.customer_id_for(TEMPLATE, email="jane@example.com")
    assert one.startswith("XCE") and len(one) <= customer_map.CUSTOMER_ID_LIMIT
    assert one != customer_map.customer_id_for(TEMPLATE, email="john@example.com")


def test_guests_are_buyers_without_a_profile_that_ever_logged_in():
    assert customer_map.is_guest({"customer_id": None}, None)
    assert customer_map.is_guest({"customer_id": 5}, {"first_login_date": None})
    assert not customer_map.is_guest({"customer_id": 5}, {"first_login_date": "2026-01-01"})
    assert customer_map.source_id(ORDER, guest=False) == "profile:17"
    assert customer_map.source_id(ORDER, guest=True) == "email:jane@example.com"


def test_new_customer_comes_from_the_billing_address():
    customer = customer_map.to_customer(ORDER, TEMPLATE, STATES, customer_id="XC17")
    assert customer == {
        "CustomerID": "XC17",
        "CustomerName": "Zoë O'Brien",
        "CustomerClass": "ECOMMERCE",
        "CurrencyID": "CAD",
        "Email": "jane@example.com",
        "MainContact": {
            "Email": "jane@example.com", "FirstName": "Zoë", "LastName": "O'Brien",
            "Phone1": "5551234567",
            "Address": {"AddressLine1": "1 Main St", "City": "New York", "State": "NY",
                        "PostalCode": "10001", "Country": "US"},
        },
    }  # fmt: skip


CUSTOMER = {
    "CustomerID": "XC17",
    "Email": "jane@example.com",
    "Status": "Active",
    "MainContact": {
        "Phone1": "5551234567",
        "Address": customer_map.addresses.to_acumatica_address(BILLING, STATES),
    },
}


def test_unchanged_profile_asks_for_no_update():
    profile = {"login": "JANE@example.com", "status": "E"}
    assert customer_map.profile_changes(profile, BILLING, CUSTOMER, TEMPLATE, STATES) == {}
    assert customer_map.xcart_profile_changes(profile, CUSTOMER, TEMPLATE) == {}


def test_store_owned_groups_flow_to_acumatica_and_erp_owned_ones_back():
    profile = {"login": "new@example.com", "status": "D"}
    moved = {**BILLING, "city": "Buffalo", "phone": "+1 716 555 0000"}
    update = customer_map.profile_changes(profile, moved, CUSTOMER, TEMPLATE, STATES)
    assert update == {
        "CustomerID": "XC17",
        "Email": "new@example.com",
        "MainContact": {
            "Phone1": "+17165550000",
            "Address": {**CUSTOMER["MainContact"]["Address"], "City": "Buffalo"},
        },
    }  # the status is Acumatica's: a disabled profile does not deactivate the customer
    inactive = {**CUSTOMER, "Status": "Inactive"}
    assert customer_map.xcart_profile_changes(profile, inactive, TEMPLATE) == {}  # already D
    assert customer_map.xcart_profile_changes({**profile, "status": "E"}, inactive, TEMPLATE) == {
        "status": "D"
    }


def test_a_group_owned_by_nobody_never_syncs():
    template = {**TEMPLATE, "system_of_record": {**TEMPLATE["system_of_record"], "contact": "none"}}
    moved = {**BILLING, "phone": "999"}
    assert "MainContact" not in customer_map.profile_changes(
        {"login": "jane@example.com"}, moved, CUSTOMER, template, STATES
    )
