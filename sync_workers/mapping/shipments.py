"""Acumatica ``Shipment`` -> what to write to X-Cart: the shipping status and tracking numbers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sync_workers.errors import PermanentError
from sync_workers.mapping.orders import XCART_SHIPPING_CODES
from sync_workers.mapping.templates import require_codes

ACUMATICA_SHIPMENT_STATUSES = (
    "Open", "On Hold", "Confirmed", "Completed", "Invoiced", "Partially Invoiced", "Receipted",
    "Auto-Generated", "Canceled",
)  # fmt: skip


@dataclass(frozen=True)
class ShipmentWrite:
    """The X-Cart writes one shipment calls for, per sales order it ships."""

    shipment_nbr: str
    order_type: str
    order_nbr: str
    shipping_code: str | None
    tracking_numbers: tuple[str, ...]


def shipping_code(shipment: Mapping[str, Any], template: Mapping[str, Any]) -> str | None:
    status = str(shipment.get("Status") or "")
    table = template.get("status_to_xcart") or {}
    if status not in table:
        raise PermanentError(
            f"shipment status {status!r} has no entry in the shipments template",
            field_errors={"Status": f"unmapped shipment status {status!r}"},
        )
    return table[status]


def orders_of(shipment: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``(OrderType, OrderNbr)`` of every sales order the shipment ships, in order, once each."""
    seen: list[tuple[str, str]] = []
    rows = list(shipment.get("Orders") or []) + list(shipment.get("Details") or [])
    for row in rows:
        key = (str(row.get("OrderType") or "SO"), str(row.get("OrderNbr") or ""))
        if key[1] and key not in seen:
            seen.append(key)
    return seen


def tracking_numbers(shipment: Mapping[str, Any]) -> tuple[str, ...]:
    """Distinct, non-empty tracking numbers of the shipment's packages, in package order."""
    found: list[str] = []
    for package in shipment.get("Packages") or []:
        value = str(package.get("TrackingNbr") or "").strip()
        if value and value not in found:
            found.append(value)
    return tuple(found)


def to_writes(shipment: Mapping[str, Any], template: Mapping[str, Any]) -> list[ShipmentWrite]:
    code = shipping_code(shipment, template)
    numbers = tracking_numbers(shipment) if template.get("tracking_numbers", True) else ()
    return [
        ShipmentWrite(str(shipment.get("ShipmentNbr")), order_type, order_nbr, code, numbers)
        for order_type, order_nbr in orders_of(shipment)
    ]


def validate_template(template: dict[str, Any]) -> list[str]:
    problems = require_codes(
        template, "status_to_xcart", ACUMATICA_SHIPMENT_STATUSES, "shipment status"
    )
    for label, code in (template.get("status_to_xcart") or {}).items():
        if code is not None and code not in XCART_SHIPPING_CODES:
            problems.append(f"status_to_xcart.{label}: unknown X-Cart code {code!r}")
    if not isinstance(template.get("types", []), list):
        problems.append("types: must be a list")
    return problems
