"""An explainable risk score for an order: each rule that fires adds points and one reason.

The rules and their weights come from the orders template (``risk``); orders at or above the
threshold are created on hold with the reasons in the note, never dropped. History (earlier
orders of the customer, recent orders from the same e-mail or address) is passed in, so the
scoring itself stays pure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sync_workers.mapping.orders import money

FAILED_STATUSES = ("F", "D")


@dataclass(frozen=True)
class History:
    """What the ledger knows about the buyer before this order."""

    #: How many earlier orders the buyer has, and the sum of their totals.
    previous_count: int = 0
    previous_sum: Decimal = Decimal(0)
    recent_orders_same_email: int = 0
    recent_orders_same_address: int = 0


@dataclass(frozen=True)
class RiskAssessment:
    score: int
    reasons: tuple[str, ...] = field(default_factory=tuple)

    def holds(self, threshold: float) -> bool:
        return self.score >= threshold


def address_key(address: Mapping[str, Any] | None) -> str:
    """A normalised key of a street address, for "many orders to one address"."""
    if not address:
        return ""
    parts = (address.get("street"), address.get("zipcode"), address.get("country_code"))
    return "|".join(" ".join(str(p or "").casefold().split()) for p in parts)


def _declined_then_retried(transactions: Sequence[Mapping[str, Any]]) -> bool:
    failed = False
    for txn in sorted(transactions, key=lambda t: (str(t.get("date") or ""), t.get("id") or 0)):
        status = str(txn.get("status") or "")
        if txn.get("type") == "decline" or status in FAILED_STATUSES:
            failed = True
        elif failed and status not in ("I", "P", "C", "V"):
            return True
    return False


def assess(
    order: Mapping[str, Any],
    transactions: Sequence[Mapping[str, Any]],
    history: History,
    rules: Mapping[str, Any],
) -> RiskAssessment:
    score = 0
    reasons: list[str] = []

    def fire(rule: str, reason: str) -> None:
        nonlocal score
        points = int(rules.get(rule) or 0)
        if points:
            score += points
            reasons.append(f"{reason} (+{points})")

    billing = order.get("billing_address") or {}
    shipping = order.get("shipping_address") or billing
    bill_country = str(billing.get("country_code") or "").upper()
    ship_country = str(shipping.get("country_code") or "").upper()
    if bill_country and ship_country and bill_country != ship_country:
        fire(
            "countries_differ",
            f"billing country {bill_country} differs from shipping {ship_country}",
        )

    total = money(order.get("total"))
    factor = Decimal(str(rules.get("history_factor") or 0))
    count = history.previous_count
    if factor and count > 0 and count >= int(rules.get("history_min_orders") or 1):
        average = money(history.previous_sum / count)
        if average > 0 and total > average * factor:
            fire(
                "above_history", f"total {total} is over {factor}x the customer's average {average}"
            )

    limit = int(rules.get("velocity_orders") or 0)
    window = rules.get("velocity_window_minutes")
    if limit and history.recent_orders_same_email + 1 >= limit:
        fire(
            "velocity",
            f"{history.recent_orders_same_email + 1} orders from this e-mail in {window} minutes",
        )
    elif limit and history.recent_orders_same_address + 1 >= limit:
        fire(
            "velocity",
            f"{history.recent_orders_same_address + 1} orders to this address in {window} minutes",
        )

    if _declined_then_retried(transactions):
        fire("declined_then_retried", "a declined payment was retried")

    high = rules.get("high_value_amount")
    if high and total >= money(high):
        fire("high_value", f"total {total} is at or above {money(high)}")
    return RiskAssessment(score, tuple(reasons))
