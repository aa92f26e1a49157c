"""Order validation: every problem named by field, totals to the cent, before any write."""

from __future__ import annotations

import copy

import pytest

from sync_workers.errors import PermanentError
from sync_workers.mapping.templates import load_template
from sync_workers.validation.orders import check_order, order_problems
from tests.mapping.test_orders_mapping import ORDER

KNOWN = {"AA-0001", "O'NEIL/42"}.__contains__


@pytest.fixture
def template() -> dict:
    return load_template("orders")


def problems(order: dict, template: dict, known=KNOWN) -> dict[str, str]:
    return order_problems(order, template, sku_known=known)


def test_a_consistent_order_has_no_problem(template):
    assert problems(ORDER, template) == {}
    check_order(ORDER, template, sku_known=KNOWN)


def test_totals_must_add_up_to_the_cent(template):
    order = copy.deepcopy(ORDER)
    order["total"] = 57.20
    assert problems(order, template) == {
        "total": "lines, shipping and tax add up to 57.19, total is 57.20"
    }


def test_sub_total_must_match_the_lines(template):
    order = copy.deepcopy(ORDER)
    order["sub_total"] = 49.99
    assert set(problems(order, template)) == {"sub_total", "items"}


def test_quantities_must_be_positive_and_skus_known(template):
    order = copy.deepcopy(ORDER)
    order["items"][0]["amount"] = 0
    order["items"][1]["sku"] = "NOPE"
    found = problems(order, template)
    assert found == {
        "items[0].amount": "must be positive",
        "items[1].sku": "SKU 'NOPE' is not known in Acumatica and not mapped",
    }


def test_a_mapped_sku_is_checked_under_its_acumatica_id(template):
    order = copy.deepcopy(ORDER)
    order["items"][1]["sku"] = "WEB-TEE-S"
    template["sku_map"] = {"WEB-TEE-S": "O'NEIL/42"}
    assert problems(order, template) == {}


def test_incomplete_addresses_name_each_missing_field(template):
    order = copy.deepcopy(ORDER)
    order["billing_address"]["city"] = " "
    order["billing_address"]["state"] = None
    order["shipping_address"] = None
    order["billing_address"]["zipcode"] = ""
    found = problems(order, template)
    assert found == {
        "billing_address.city": "missing",
        "billing_address.zipcode": "missing",
        "billing_address.state": "missing",
        "shipping_address.city": "missing",
        "shipping_address.zipcode": "missing",
        "shipping_address.state": "missing",
    }


def test_missing_billing_address_is_named(template):
    order = copy.deepcopy(ORDER)
    order["billing_address"] = None
    assert problems(order, template)["billing_address"] == "missing"


def test_structure_errors_come_from_the_schema(template):
    order = copy.deepcopy(ORDER)
    order["items"] = []
    order["email"] = "not-an-email"
    order["currency"] = "dollars"
    found = problems(order, template)
    assert found["items"] == "no lines"
    assert set(found) >= {"email", "currency"}


def test_check_order_raises_one_permanent_error_with_all_fields(template):
    order = copy.deepcopy(ORDER)
    order["items"][0]["amount"] = -1
    order["billing_address"]["street"] = ""
    with pytest.raises(PermanentError) as err:
        check_order(order, template, sku_known=KNOWN)
    assert set(err.value.field_errors) == {"items[0].amount", "billing_address.street"}
    assert "order 1042 is invalid" in str(err.value)
