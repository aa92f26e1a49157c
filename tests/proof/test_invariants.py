"""Each chaos invariant fails on planted data that breaks it, and holds on data that keeps it."""

from __future__ import annotations

import copy

import pytest

from chaos.invariants import MadeCustomer, Snapshot, check
from chaos.readback import engine_customer_writes, profile_writes


def healthy() -> Snapshot:
    return Snapshot(
        valid_orders={"1001": "1", "1002": "2"},
        bad_orders={"1003": ("3", "shipping_address.state")},
        sales_orders=[("SO", "000001", "1001"), ("SO", "000002", "1002")],
        payments=[
            ("Prepayment", "000001", "Balanced", [("SO", "000001")]),
            ("Prepayment", "000002", "Balanced", [("SO", "000002")]),
        ],
        shipments={"SH1": ("1", ["TRK1"])},
        store_orders={"1": ("S", ["TRK1"])},
        ledger_orders={"1": "SO/000001", "2": "SO/000002"},
        dead_letters=[("orders", "3", "order 1003 is invalid: shipping_address.state: unmapped")],
        store_refunds={"71": ("2", 10.0), "72": ("2", 5.5)},
        erp_refunds=[("XC-R71", "Balanced", 10.0), ("XC-R72", "Balanced", 5.5)],
        made_customers={
            "CHX000": MadeCustomer("customer001.a@example.com", "Erin", "Made000", "7", 0, "t1"),
            "CHX001": MadeCustomer("erp001@example.org", "Rena", "Edited001", None, 1, "t2"),
        },
        customer_links={"CHX000": {"7"}, "CHX001": {"60"}},
        profiles={
            "7": ("customer001.a@example.com", "Erin", "Made000"),
            "60": ("erp001@example.org", "Rena", "Edited001"),
        },
        erp_modified={"CHX000": "t1", "CHX001": "t2"},
        profile_writes={"7": 1, "60": 2},
        writes_after_settle={"their_profile_writes": 0, "their_customer_writes": 0},
    )


def test_healthy_snapshot_holds() -> None:
    report = check(healthy())
    assert report.ok, report.violations
    assert report.counts["lost_orders"] == 0
    assert report.counts["sales_orders"] == 2


def new_profile_for_existing_email(snap: Snapshot) -> None:
    """The existing profile gone and a new one with its login linked instead."""
    snap.profiles["62"] = snap.profiles.pop("7")
    snap.customer_links["CHX000"] = {"62"}


def broken(change) -> list[str]:
    snap = copy.deepcopy(healthy())
    change(snap)
    return check(snap).violations


@pytest.mark.parametrize(
    ("change", "kind"),
    [
        (lambda s: s.sales_orders.pop(), "lost_orders"),
        (lambda s: s.sales_orders.append(("SO", "000009", "1001")), "duplicated_sales_orders"),
        (lambda s: s.sales_orders.append(("SO", "000009", "1003")), "bad_orders_written"),
        (lambda s: s.sales_orders.append(("SO", "000009", "4242")), "unknown_sales_orders"),
        (lambda s: s.payments.pop(), "orders_without_payment"),
        (
            lambda s: s.payments.append(("Prepayment", "000003", "Open", [("SO", "000001")])),
            "orders_with_duplicated_payment",
        ),
        (lambda s: s.store_orders.update({"1": ("N", ["TRK1"])}), "shipments_not_written_back"),
        (
            lambda s: s.store_orders.update({"1": ("S", ["TRK1", "TRK1"])}),
            "tracking_not_written_once",
        ),
        (lambda s: s.ledger_orders.update({"2": "SO/000001"}), "ledger_disagrees"),
        (lambda s: s.dead_letters.clear(), "bad_orders_not_dead_lettered"),
        (lambda s: s.erp_refunds.pop(), "refunds_lost"),
        (lambda s: s.erp_refunds.append(("XC-R71", "Balanced", 10.0)), "refunds_doubled"),
        (
            lambda s: s.erp_refunds.__setitem__(0, ("XC-R71", "Balanced", 1.0)),
            "refund_amount_wrong",
        ),
        (lambda s: s.erp_refunds.append(("XC-R99", "Balanced", 1.0)), "unknown_refunds"),
        (
            lambda s: s.dead_letters.__setitem__(0, ("orders", "3", "some other reason")),
            "bad_orders_not_dead_lettered",
        ),
        (lambda s: s.customer_links.pop("CHX001"), "erp_customers_not_linked"),
        (lambda s: s.customer_links["CHX000"].add("61"), "erp_customers_linked_twice"),
        (
            lambda s: s.profiles.update({"60": ("someone@example.org", "Rena", "Edited001")}),
            "erp_customers_wrong_login",
        ),
        (new_profile_for_existing_email, "erp_customers_existing_profile_not_used"),
        (
            lambda s: s.profiles.update({"63": ("ERP001@example.org", "Rena", "Edited001")}),
            "erp_customers_duplicate_profiles",
        ),
        (
            lambda s: s.profiles.update({"60": ("erp001@example.org", "Erin", "Made001")}),
            "erp_customer_edits_not_applied",
        ),
        (lambda s: s.erp_modified.update({"CHX001": "t3"}), "erp_customers_written_back"),
        (lambda s: s.profile_writes.update({"60": 7}), "profiles_written_too_often"),
        (
            lambda s: s.writes_after_settle.update({"their_profile_writes": 1}),
            "writes_on_poll_after_settle",
        ),
        (
            lambda s: s.writes_after_settle.update({"their_customer_writes": 2}),
            "writes_on_poll_after_settle",
        ),
    ],
)
def test_each_broken_invariant_is_reported(change, kind: str) -> None:
    violations = broken(change)
    assert len(violations) == 1
    assert violations[0].startswith(kind + ": 1")


def test_voided_payments_do_not_count_as_applied() -> None:
    violations = broken(
        lambda s: s.payments.append(("Prepayment", "000003", "Voided", [("SO", "000001")]))
    )
    assert violations == []


def test_customer_writes_within_the_bound_hold() -> None:
    """Create + one edit, each repeated twice after lost answers, is not ping-pong."""
    assert broken(lambda s: s.profile_writes.update({"60": 6})) == []


def test_poll_after_settle_not_measured_is_not_a_violation() -> None:
    assert broken(lambda s: setattr(s, "writes_after_settle", None)) == []


def test_customer_with_an_existing_profile_may_get_its_store_values() -> None:
    """The profile that existed owns contact and address: one write to the customer is fine."""
    assert broken(lambda s: s.erp_modified.update({"CHX000": "t9"})) == []


def test_profile_writes_are_counted_per_profile_from_the_request_counters() -> None:
    by_path = {
        "GET /api/profiles/7": 5,
        "PUT /api/profiles/7": 1,
        "PUT /api/profiles/7/addresses/3": 2,
        "POST /api/profiles/70/addresses": 1,
        "POST /api/profiles": 4,
        "PUT /api/products/7": 9,
    }
    assert profile_writes(by_path) == {"7": 3, "70": 1}
    erp = {
        "PUT /entity/Default/24.200.001/Customer": 3,
        "GET /entity/Default/24.200.001/Customer": 8,
    }
    assert engine_customer_writes(by_path, erp) == {
        "xcart_profile_writes": 8,
        "acumatica_customer_puts": 3,
    }
