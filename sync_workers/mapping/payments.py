"""X-Cart payment transaction -> Acumatica ``Payment`` applied to the sales order (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sync_workers.dates import parse_optional
from sync_workers.errors import PermanentError
from sync_workers.mapping.orders import XCART_PAYMENT_CODES, money
from sync_workers.mapping.templates import require_codes

TRANSACTION_TYPES = (
    "auth", "sale", "capture", "capturePart", "captureMulti", "void", "voidPart", "voidMulti",
    "refund", "refundPart", "refundMulti", "getInfo", "accept", "decline", "test",
)  # fmt: skip
TRANSACTION_STATUSES = ("I", "P", "S", "W", "F", "C", "V")
TYPE_ACTIONS = ("record", "hold", "refund", "ignore")
ACUMATICA_PAYMENT_STATUSES = (
    "On Hold", "Balanced", "Pending Processing", "Open", "Closed", "Voided",
)  # fmt: skip


def payment_ref(transaction: Mapping[str, Any], template: Mapping[str, Any]) -> str:
    """The reference that identifies the payment of one X-Cart transaction in Acumatica."""
    return f"{template.get('payment_ref_prefix') or ''}{transaction['id']}"


def method(transaction: Mapping[str, Any], template: Mapping[str, Any]) -> dict[str, str]:
    """Acumatica payment method and cash account for the transaction's X-Cart method."""
    table = {str(k).strip().casefold(): v for k, v in (template.get("methods") or {}).items()}
    for name in (transaction.get("local_name"), transaction.get("name")):
        if name and str(name).strip().casefold() in table:
            return dict(table[str(name).strip().casefold()])
    shown = transaction.get("local_name") or transaction.get("name")
    raise PermanentError(
        f"payment method {shown!r} has no Acumatica payment method in the payments template",
        field_errors={"payment_method": f"unmapped payment method {shown!r}"},
    )


def status_letter(
    transaction: Mapping[str, Any], order_payment_code: str | None, template: Mapping[str, Any]
) -> str:
    """The transaction's status letter, tolerant of X-Cart 5.5.1 putting the method name there."""
    status = str(transaction.get("status") or "")
    if status in TRANSACTION_STATUSES:
        return status
    fallback = template.get("status_from_order_payment_status") or {}
    return str(fallback.get(order_payment_code or "", "P"))


def action(
    transaction: Mapping[str, Any], order_payment_code: str | None, template: Mapping[str, Any]
) -> str:
    """``record``, ``hold``, ``refund`` or ``ignore`` for one transaction."""
    kind = str(transaction.get("type") or "")
    chosen = (template.get("transaction_types") or {}).get(kind)
    if chosen is None:
        raise PermanentError(
            f"transaction type {kind!r} has no entry in the payments template",
            field_errors={"type": f"unmapped transaction type {kind!r}"},
        )
    if chosen in ("record", "hold"):
        letter = status_letter(transaction, order_payment_code, template)
        if not (template.get("transaction_statuses") or {}).get(letter, False):
            return "ignore"
    return str(chosen)


def to_payment(
    transaction: Mapping[str, Any],
    template: Mapping[str, Any],
    *,
    customer_id: str,
    order_type: str,
    order_nbr: str,
    on_hold: bool = False,
    order_number: str | None = None,
) -> dict[str, Any]:
    """The ``Payment`` record to PUT for one X-Cart transaction, applied to the sales order."""
    chosen = method(transaction, template)
    amount = money(transaction.get("value"))
    payment: dict[str, Any] = {
        "Type": template.get("document_type") or "Prepayment",
        "CustomerID": customer_id,
        "PaymentMethod": chosen["payment_method"],
        "CashAccount": chosen["cash_account"],
        "PaymentRef": payment_ref(transaction, template),
        "ExternalRef": str(transaction["id"]),
        "CurrencyID": str(transaction.get("currency") or "").upper() or None,
        "PaymentAmount": float(amount),
        "Hold": on_hold,
        "Description": f"X-Cart order #{order_number or ''} transaction {transaction['id']}",
        "OrdersToApply": [
            {"OrderType": order_type, "OrderNbr": order_nbr, "AppliedToOrder": float(amount)}
        ],
    }
    when = parse_optional(transaction.get("date"))
    if when is not None:
        payment["ApplicationDate"] = when.date().isoformat()
    return {k: v for k, v in payment.items() if v is not None}


def xcart_payment_code(
    sales_order: Mapping[str, Any], current_code: str | None, template: Mapping[str, Any]
) -> str | None:
    """The X-Cart payment status the sales order's payments call for, or ``None`` (no write).

    Payments whose Acumatica status maps to a code count towards the order total; covering it
    gives that code, covering part of it ``partially_paid_code``. Only statuses listed in
    ``writable_xcart_statuses`` are changed, and never to the status the order already has.
    """
    if current_code not in (template.get("writable_xcart_statuses") or []):
        return None
    table = template.get("acumatica_status_to_xcart") or {}
    covered: dict[str, Any] = {}
    for row in sales_order.get("Payments") or []:
        code = table.get(row.get("Status"))
        if code:
            covered[code] = covered.get(code, money(0)) + money(row.get("AppliedToOrder"))
    if not covered:
        return None
    code, amount = max(covered.items(), key=lambda item: item[1])
    if amount >= money(sales_order.get("OrderTotal")):
        wanted: str | None = code
    else:
        wanted = template.get("partially_paid_code")
    return wanted if wanted and wanted != current_code else None


def validate_template(template: dict[str, Any]) -> list[str]:
    problems = require_codes(template, "transaction_types", TRANSACTION_TYPES, "transaction type")
    for kind, chosen in (template.get("transaction_types") or {}).items():
        if chosen not in TYPE_ACTIONS:
            problems.append(f"transaction_types.{kind}: must be one of {', '.join(TYPE_ACTIONS)}")
    problems += require_codes(
        template, "transaction_statuses", TRANSACTION_STATUSES, "transaction status"
    )
    problems += require_codes(
        template, "status_from_order_payment_status", XCART_PAYMENT_CODES, "payment status"
    )
    problems += require_codes(
        template, "acumatica_status_to_xcart", ACUMATICA_PAYMENT_STATUSES, "payment status"
    )
    for label, code in (template.get("acumatica_status_to_xcart") or {}).items():
        if code is not None and code not in XCART_PAYMENT_CODES:
            problems.append(f"acumatica_status_to_xcart.{label}: unknown X-Cart code {code!r}")
    for code in template.get("writable_xcart_statuses") or []:
        if code not in XCART_PAYMENT_CODES:
            problems.append(f"writable_xcart_statuses: unknown X-Cart code {code!r}")
    for name, entry in (template.get("methods") or {}).items():
        if not isinstance(entry, Mapping) or not {"payment_method", "cash_account"} <= set(entry):
            problems.append(f"methods.{name}: needs payment_method and cash_account")
    return problems
