"""The invariants a chaos run ends on, computed from what the systems hold (pure; no I/O).

``Snapshot`` is read from the sandboxes' own APIs, the ledger and the dead-letter queue by
``chaos.readback``; ``check`` compares it with what the harness placed and returns the counts
and every violation, so a test can plant data and see each rule fail.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Snapshot:
    #: X-Cart order number -> X-Cart order id, for orders the harness placed as valid.
    valid_orders: dict[str, str]
    #: X-Cart order number -> (X-Cart order id, the field the engine must name).
    bad_orders: dict[str, tuple[str, str]]
    #: Acumatica sales orders: (OrderType, OrderNbr, CustomerOrder).
    sales_orders: list[tuple[str, str, str]]
    #: Acumatica payments: (Type, ReferenceNbr, Status, [(OrderType, OrderNbr), ...] applied to).
    payments: list[tuple[str, str, str, list[tuple[str, str]]]]
    #: Confirmed shipments: ShipmentNbr -> (X-Cart order id, [tracking numbers]).
    shipments: dict[str, tuple[str, list[str]]]
    #: X-Cart order id -> (shipping status code, [tracking numbers as the store holds them]).
    store_orders: dict[str, tuple[str, list[str]]]
    #: Ledger: X-Cart order id -> target key (orders flow, synced rows).
    ledger_orders: dict[str, str]
    #: Open dead letters: (flow, record id, error message).
    dead_letters: list[tuple[str, str, str]]
    ignored_payment_statuses: frozenset[str] = frozenset({"Voided"})
    #: X-Cart refunds (backend transactions): refund id -> (X-Cart order id, amount).
    store_refunds: dict[str, tuple[str, float]] = field(default_factory=dict)
    #: Acumatica refunds (payments of type Refund): (PaymentRef, Status, PaymentAmount).
    erp_refunds: list[tuple[str, str, float]] = field(default_factory=list)
    #: PaymentRef of the refund of X-Cart refund ``n``: prefix + n (payments template).
    refund_ref_prefix: str = "XC-R"


@dataclass
class Report:
    counts: dict[str, int] = field(default_factory=dict)
    violations: list[str] = field(default_factory=list)
    #: Dead letters that are not the planted bad orders (flow, record, error), for the reader.
    other_dead_letters: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.violations

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "counts": self.counts,
            "violations": self.violations,
            "other_dead_letters": self.other_dead_letters,
        }


MAX_LISTED = 20


def _note(report: Report, kind: str, items: list[str]) -> None:
    report.counts[kind] = len(items)
    if items:
        shown = ", ".join(items[:MAX_LISTED]) + (" ..." if len(items) > MAX_LISTED else "")
        report.violations.append(f"{kind}: {len(items)} ({shown})")


def check(snap: Snapshot) -> Report:
    report = Report()
    by_number: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for order_type, order_nbr, customer_order in snap.sales_orders:
        by_number[str(customer_order)].append((order_type, order_nbr))
    report.counts["valid_orders"] = len(snap.valid_orders)
    report.counts["bad_orders"] = len(snap.bad_orders)
    report.counts["sales_orders"] = len(snap.sales_orders)

    _note(report, "lost_orders", sorted(n for n in snap.valid_orders if not by_number.get(n)))
    _note(
        report,
        "duplicated_sales_orders",
        sorted(f"{n} x{len(by_number[n])}" for n in snap.valid_orders if len(by_number[n]) > 1),
    )
    _note(report, "bad_orders_written", sorted(n for n in snap.bad_orders if by_number.get(n)))
    known = set(snap.valid_orders) | set(snap.bad_orders)
    _note(report, "unknown_sales_orders", sorted(n for n in by_number if n not in known))

    _check_refunds(snap, report)
    applied: Counter[tuple[str, str]] = Counter()
    for _type, _ref, status, orders in snap.payments:
        if status in snap.ignored_payment_statuses:
            continue
        for key in set(orders):
            applied[key] += 1
    report.counts["payments"] = sum(
        1 for p in snap.payments if p[2] not in snap.ignored_payment_statuses and p[0] != "Refund"
    )
    missing_payment, duplicated_payment = [], []
    for number in snap.valid_orders:
        for key in by_number.get(number, [])[:1]:
            if applied[key] == 0:
                missing_payment.append(number)
            elif applied[key] > 1:
                duplicated_payment.append(f"{number} x{applied[key]}")
    _note(report, "orders_without_payment", sorted(missing_payment))
    _note(report, "orders_with_duplicated_payment", sorted(duplicated_payment))

    not_shipped, tracking_wrong = [], []
    for shipment_nbr, (order_id, tracking) in sorted(snap.shipments.items()):
        status, stored = snap.store_orders.get(order_id, ("?", []))
        if status != "S":
            not_shipped.append(f"{shipment_nbr}->{order_id} ({status})")
        counts = Counter(stored)
        if any(counts[t] != 1 for t in tracking):
            tracking_wrong.append(f"{shipment_nbr}->{order_id} {dict(counts)}")
    report.counts["confirmed_shipments"] = len(snap.shipments)
    _note(report, "shipments_not_written_back", not_shipped)
    _note(report, "tracking_not_written_once", tracking_wrong)

    wrong_ledger = []
    for number, order_id in snap.valid_orders.items():
        found = by_number.get(number) or []
        key = snap.ledger_orders.get(order_id)
        if found and key != f"{found[0][0]}/{found[0][1]}":
            wrong_ledger.append(f"{number}: ledger {key}")
    _note(report, "ledger_disagrees", sorted(wrong_ledger))

    letters: dict[str, list[str]] = defaultdict(list)
    for flow, record_id, message in snap.dead_letters:
        if flow == "orders":
            letters[str(record_id)].append(message)
    not_dead_lettered = []
    for number, (order_id, reason) in sorted(snap.bad_orders.items()):
        if not any(reason in m for m in letters.get(order_id, [])):
            not_dead_lettered.append(f"{number} (want {reason!r})")
    _note(report, "bad_orders_not_dead_lettered", not_dead_lettered)
    report.counts["open_dead_letters"] = len(snap.dead_letters)
    bad_ids = {order_id for order_id, _ in snap.bad_orders.values()}
    others = [
        f"{flow} {record_id}: {message[:200]}"
        for flow, record_id, message in snap.dead_letters
        if not (flow == "orders" and str(record_id) in bad_ids)
    ]
    report.counts["other_dead_letters"] = len(others)
    report.other_dead_letters = others[:MAX_LISTED]
    valid_ids = set(snap.valid_orders.values())
    report.counts["valid_orders_dead_lettered"] = len(
        {r for f, r, _ in snap.dead_letters if f == "orders" and r in valid_ids}
    )
    return report


def _check_refunds(snap: Snapshot, report: Report) -> None:
    """Each X-Cart refund is one Acumatica refund, for its amount: none lost, none doubled."""
    found: dict[str, list[float]] = defaultdict(list)
    for ref, status, amount in snap.erp_refunds:
        if status not in snap.ignored_payment_statuses:
            found[ref].append(float(amount))
    report.counts["store_refunds"] = len(snap.store_refunds)
    report.counts["acumatica_refunds"] = sum(len(v) for v in found.values())
    lost, doubled, wrong = [], [], []
    for refund_id, (order_id, amount) in sorted(snap.store_refunds.items()):
        amounts = found.get(f"{snap.refund_ref_prefix}{refund_id}", [])
        if not amounts:
            lost.append(f"{refund_id} (order {order_id})")
        elif len(amounts) > 1:
            doubled.append(f"{refund_id} x{len(amounts)}")
        elif round(amounts[0] - amount, 2) != 0:
            wrong.append(f"{refund_id}: {amounts[0]} for {amount}")
    _note(report, "refunds_lost", lost)
    _note(report, "refunds_doubled", doubled)
    _note(report, "refund_amount_wrong", wrong)
    ours = {f"{snap.refund_ref_prefix}{refund_id}" for refund_id in snap.store_refunds}
    _note(report, "unknown_refunds", sorted(ref for ref in found if ref not in ours))
