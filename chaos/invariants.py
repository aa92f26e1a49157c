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
    #: Customers the harness created in Acumatica: CustomerID -> what it made of them.
    made_customers: dict[str, MadeCustomer] = field(default_factory=dict)
    #: Ledger links of those customers: CustomerID -> X-Cart profile ids (either direction).
    customer_links: dict[str, set[str]] = field(default_factory=dict)
    #: Store profiles whose login is one of their e-mails: id -> (login, first name, last name
    #: of the billing address, else the first address).
    profiles: dict[str, tuple[str, str, str]] = field(default_factory=dict)
    #: Their ``LastModifiedDateTime`` in Acumatica now: CustomerID -> value.
    erp_modified: dict[str, str] = field(default_factory=dict)
    #: Write requests (POST/PUT/PATCH/DELETE) the store saw on ``/api/profiles/{id}...``: id -> n.
    profile_writes: dict[str, int] = field(default_factory=dict)
    #: Writes on the made customers' profiles and made customers written (their
    #: ``LastModifiedDateTime`` moved) during one more customers poll after settle (``None``:
    #: not measured).
    writes_after_settle: dict[str, int] | None = None


@dataclass
class MadeCustomer:
    """A customer the harness created in Acumatica (``PUT Customer``), as it left it."""

    email: str
    first: str
    last: str
    #: The store profile that already had this e-mail when it was created (``None``: new).
    existing_profile: str | None
    #: Name edits made after the engine linked it.
    edits: int
    #: ``LastModifiedDateTime`` of the harness's last write.
    written_at: str


def profile_write_bound(edits: int) -> int:
    """Writes allowed on the profile of a customer with ``edits`` edits: its creation and each
    edit, each possibly repeated after an answer lost to a fault."""
    return 3 * (edits + 1)


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
    _check_customers(snap, report)
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
        ledger_key = snap.ledger_orders.get(order_id)
        if found and ledger_key != f"{found[0][0]}/{found[0][1]}":
            wrong_ledger.append(f"{number}: ledger {ledger_key}")
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


def _check_customers(snap: Snapshot, report: Report) -> None:
    """Each customer the harness made in Acumatica is one store profile with its e-mail as login
    (the existing one when there was one), carries its Acumatica-owned name edits, and the
    engine's writes stop: nothing written back to a customer with a new e-mail, a bounded
    number of profile writes, nothing at all on one more poll after settle."""
    made = snap.made_customers
    report.counts["erp_customers_made"] = len(made)
    report.counts["erp_customers_with_existing_email"] = sum(
        1 for c in made.values() if c.existing_profile is not None
    )
    by_login: dict[str, list[str]] = defaultdict(list)
    for profile_id, (login, _first, _last) in snap.profiles.items():
        by_login[login.casefold()].append(profile_id)
    unlinked, twice, wrong_login, not_existing, dup, stale, written, chatty = ([] for _ in range(8))
    for customer_id, c in sorted(made.items()):
        links = sorted(snap.customer_links.get(customer_id, set()))
        profiles = by_login.get(c.email.casefold(), [])
        if len(profiles) > 1:
            dup.append(f"{customer_id} x{len(profiles)}")
        if not links:
            unlinked.append(customer_id)
            continue
        if len(links) > 1:
            twice.append(f"{customer_id} -> {links}")
            continue
        profile_id = links[0]
        login, first, last = snap.profiles.get(profile_id, ("", "", ""))
        if login.casefold() != c.email.casefold():
            wrong_login.append(f"{customer_id} -> {profile_id}")
            continue
        if c.existing_profile is not None and profile_id != c.existing_profile:
            not_existing.append(f"{customer_id} -> {profile_id} (had {c.existing_profile})")
        if (first, last) != (c.first, c.last):
            stale.append(f"{customer_id} -> {profile_id}")
        now = snap.erp_modified.get(customer_id)
        # a profile that existed brings its own values of the groups X-Cart owns: one write
        if c.existing_profile is None and now is not None and now != c.written_at:
            written.append(customer_id)
        writes = snap.profile_writes.get(profile_id, 0)
        if writes > profile_write_bound(c.edits):
            chatty.append(f"{profile_id}: {writes} writes for {c.edits} edits")
    _note(report, "erp_customers_not_linked", unlinked)
    _note(report, "erp_customers_linked_twice", twice)
    _note(report, "erp_customers_wrong_login", wrong_login)
    _note(report, "erp_customers_existing_profile_not_used", not_existing)
    _note(report, "erp_customers_duplicate_profiles", dup)
    _note(report, "erp_customer_edits_not_applied", stale)
    _note(report, "erp_customers_written_back", written)
    _note(report, "profiles_written_too_often", chatty)
    after = snap.writes_after_settle
    if after is not None:
        _note(report, "writes_on_poll_after_settle", [f"{k} {v}" for k, v in after.items() if v])
