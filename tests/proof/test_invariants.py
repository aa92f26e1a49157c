"""Each chaos invariant fails on planted data that breaks it, and holds on data that keeps it."""

from __future__ import annotations

import copy

import pytest

from chaos.invariants import Snapshot, check


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
    )


def test_healthy_snapshot_holds() -> None:
    report = check(healthy())
    assert report.ok, report.violations
    assert report.counts["lost_orders"] == 0
    assert report.counts["sales_orders"] == 2


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
