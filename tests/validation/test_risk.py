"""Risk score: each rule that fires adds its points and one readable reason."""

from __future__ import annotations

import copy
from decimal import Decimal

from sync_workers.mapping.templates import load_template
from sync_workers.validation.risk import History, address_key, assess
from tests.mapping.test_orders_mapping import ORDER

RULES = load_template("orders")["risk"]["rules"]
THRESHOLD = load_template("orders")["risk"]["hold_threshold"]
SAME_COUNTRY = {**ORDER, "shipping_address": ORDER["billing_address"]}


def test_an_ordinary_order_scores_zero() -> None:
    result = assess(SAME_COUNTRY, [], History(), RULES)
    assert result.score == 0 and result.reasons == ()
    assert not result.holds(THRESHOLD)


def test_countries_differ_is_explained() -> None:
    result = assess(ORDER, [], History(), RULES)
    assert result.score == RULES["countries_differ"]
    assert result.reasons == ("billing country US differs from shipping CA (+30)",)


def test_value_far_above_history_and_velocity_add_up_to_a_hold() -> None:
    order = {**SAME_COUNTRY, "total": 900.0}
    history = History(previous_count=2, previous_sum=Decimal("120"), recent_orders_same_email=4)
    result = assess(order, [], history, RULES)
    assert result.score == RULES["above_history"] + RULES["velocity"]
    assert result.holds(THRESHOLD)
    assert any("over 5x the customer's average 60.00" in r for r in result.reasons)
    assert any("5 orders from this e-mail" in r for r in result.reasons)


def test_history_needs_enough_orders() -> None:
    order = {**SAME_COUNTRY, "total": 900.0}
    result = assess(order, [], History(previous_count=1, previous_sum=Decimal("10")), RULES)
    assert result.score == 0


def test_many_orders_to_one_address() -> None:
    result = assess(SAME_COUNTRY, [], History(recent_orders_same_address=7), RULES)
    assert result.reasons == ("8 orders to this address in 60 minutes (+30)",)


def test_declined_then_retried_payment() -> None:
    transactions = [
        {"id": 1, "date": "2026-01-01T10:00:00+0000", "type": "sale", "status": "F"},
        {"id": 2, "date": "2026-01-01T10:01:00+0000", "type": "sale", "status": "S"},
    ]
    result = assess(SAME_COUNTRY, transactions, History(), RULES)
    assert result.reasons == ("a declined payment was retried (+40)",)
    assert assess(SAME_COUNTRY, transactions[1:], History(), RULES).score == 0


def test_address_key_ignores_case_and_spacing() -> None:
    a = copy.deepcopy(ORDER["billing_address"])
    b = {**a, "street": "  1  MAIN st "}
    assert address_key(a) == address_key(b)
