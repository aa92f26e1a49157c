"""X-Cart payment transactions -> Acumatica payments applied to the sales order (pure).

Three shapes: a row of the sales order's ``Payments`` tab (a new order's payments, created with
it in one PUT), a ``Payment`` of its own with ``OrdersToApply`` (transactions that come later),
and a ``Payment`` of type ``Refund`` with ``DocumentsToApply`` naming the payment it pays back
(an X-Cart refund: a ``refund``/``refundPart``/``refundMulti`` backend transaction).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
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


POST_AS = ("payment", "journal")


def post_as(template: Mapping[str, Any]) -> str:
    """``payment`` (AR payments applied to the sales order) or ``journal`` (a GL journal entry
    per captured transaction, for merchants who do not run receivables)."""
    return str(template.get("post_as") or "payment")


def with_order(template: Mapping[str, Any]) -> bool:
    """Whether a new order's payments go in the sales order's own PUT (never for journal
    entries: they are no part of a sales order)."""
    return post_as(template) == "payment" and bool(template.get("with_order", True))


def journal_accounts(template: Mapping[str, Any]) -> dict[str, str]:
    """Every GL account the journal settings name: ``{setting path: account}``."""
    journal = template.get("journal") or {}
    found = {"journal.credit_account": str(journal.get("credit_account") or "")}
    for method_id, account in (journal.get("debit_accounts") or {}).items():
        found[f"journal.debit_accounts.{method_id}"] = str(account or "")
    return found


def to_journal(
    transaction: Mapping[str, Any],
    template: Mapping[str, Any],
    *,
    reference: str,
    amount: Decimal,
    order_number: str | None = None,
    reverse: bool = False,
    what: str = "transaction",
) -> dict[str, Any]:
    """The ``JournalTransaction`` for money captured by one X-Cart transaction (``reverse``:
    paid back by a refund): the payment method's debit account against the credit account,
    for ``amount`` in the transaction's currency. ``Description`` is ``reference`` alone: the
    look-up that proves the entry exists filters on it."""
    chosen = method(transaction, template)
    journal = template.get("journal") or {}
    debits = {str(k).upper(): str(v) for k, v in (journal.get("debit_accounts") or {}).items()}
    cash = debits.get(str(chosen["payment_method"]).upper())
    if not cash:
        raise PermanentError(
            f"payment method {chosen['payment_method']!r} has no debit account in the payments "
            "template (journal.debit_accounts)",
            field_errors={"payment_method": f"no journal account for {chosen['payment_method']}"},
        )
    revenue = str(journal.get("credit_account"))
    text = f"X-Cart order #{order_number or ''} {what} {transaction['id']}"
    sub = journal.get("subaccount")
    lines = []
    for account, debit in ((cash, not reverse), (revenue, reverse)):
        line: dict[str, Any] = {
            "Account": account,
            "DebitAmount": float(amount) if debit else 0.0,
            "CreditAmount": 0.0 if debit else float(amount),
            "ReferenceNbr": str(order_number or ""),
            "TransactionDescription": text,
        }
        if sub:
            line["Subaccount"] = str(sub)
        lines.append(line)
    entry: dict[str, Any] = {
        "Module": "GL",
        "Description": reference,
        "CurrencyID": str(transaction.get("currency") or "").upper() or None,
        "Hold": False,
        "Details": lines,
    }
    when = parse_optional(transaction.get("date"))
    if when is not None:
        entry["TransactionDate"] = when.date().isoformat()
    return {k: v for k, v in entry.items() if v is not None}


def to_order_payment(
    transaction: Mapping[str, Any],
    template: Mapping[str, Any],
    *,
    applied: Decimal,
    on_hold: bool = False,
    order_number: str | None = None,
) -> dict[str, Any]:
    """A row of the sales order's ``Payments`` tab for one transaction: Acumatica creates the
    payment (``document_type``) with the order, applied to it for ``applied``."""
    chosen = method(transaction, template)
    row: dict[str, Any] = {
        "DocType": template.get("document_type") or "Prepayment",
        "PaymentMethod": chosen["payment_method"],
        "CashAccount": chosen["cash_account"],
        "PaymentRef": payment_ref(transaction, template),
        "ExternalRef": str(transaction["id"]),
        "PaymentAmount": float(money(transaction.get("value"))),
        "AppliedToOrder": float(applied),
        "Hold": on_hold,
        "Description": f"X-Cart order #{order_number or ''} transaction {transaction['id']}",
    }
    when = parse_optional(transaction.get("date"))
    if when is not None:
        row["ApplicationDate"] = when.date().isoformat()
    return row


def refunds_of(
    transaction: Mapping[str, Any], order_payment_code: str | None, template: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """The successful refunds of one captured transaction (its backend transactions whose type
    the template maps to ``refund``), oldest first. A status that is not a letter (5.5.1's
    quirk) is read from the order's payment status when given, else taken as a success."""
    types = template.get("transaction_types") or {}
    statuses = template.get("transaction_statuses") or {}
    found = []
    for backend in transaction.get("backend_transactions") or []:
        if types.get(str(backend.get("type") or "")) != "refund":
            continue
        status = str(backend.get("status") or "")
        if status in TRANSACTION_STATUSES:
            letter = status
        elif order_payment_code:  # 5.5.1's quirk: the order's payment status decides
            letter = status_letter(backend, order_payment_code, template)
        else:  # not known here: X-Cart lists a refund it recorded
            letter = "S"
        if statuses.get(letter, False):
            found.append(dict(backend))
    return found


def refund_ref(refund: Mapping[str, Any], template: Mapping[str, Any]) -> str:
    """The reference that identifies the Acumatica refund of one X-Cart refund."""
    prefix = (template.get("refunds") or {}).get("ref_prefix") or "XC-R"
    return f"{prefix}{refund['id']}"


def to_refund(
    refund: Mapping[str, Any],
    transaction: Mapping[str, Any],
    template: Mapping[str, Any],
    *,
    customer_id: str,
    payment_type: str,
    payment_nbr: str,
    order_number: str | None = None,
) -> dict[str, Any]:
    """The ``Payment`` of type ``Refund`` for one X-Cart refund, applied to the payment of the
    transaction it refunds (``payment_type``/``payment_nbr``) for the refunded amount."""
    chosen = method(transaction, template)
    amount = money(refund.get("value"))
    record: dict[str, Any] = {
        "Type": "Refund",
        "CustomerID": customer_id,
        "PaymentMethod": chosen["payment_method"],
        "CashAccount": chosen["cash_account"],
        "PaymentRef": refund_ref(refund, template),
        "ExternalRef": str(refund["id"]),
        "CurrencyID": str(transaction.get("currency") or "").upper() or None,
        "PaymentAmount": float(amount),
        "Hold": False,
        "Description": (
            f"X-Cart order #{order_number or ''} refund {refund['id']} "
            f"of transaction {transaction['id']}"
        ),
        "DocumentsToApply": [
            {"DocType": payment_type, "ReferenceNbr": payment_nbr, "AmountPaid": float(amount)}
        ],
    }
    when = parse_optional(refund.get("date"))
    if when is not None:
        record["ApplicationDate"] = when.date().isoformat()
    return {k: v for k, v in record.items() if v is not None}


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
    refunds = template.get("refunds") or {}
    if not isinstance(refunds, Mapping):
        problems.append("refunds: must be a mapping")
    else:
        if not isinstance(refunds.get("release_payment", True), bool):
            problems.append("refunds.release_payment: must be true or false")
        problems += returns_problems(refunds.get("returns"))
    if not isinstance(template.get("with_order", True), bool):
        problems.append("with_order: must be true or false")
    problems += journal_problems(template)
    for name, entry in (template.get("methods") or {}).items():
        if not isinstance(entry, Mapping) or not {"payment_method", "cash_account"} <= set(entry):
            problems.append(f"methods.{name}: needs payment_method and cash_account")
    return problems


def journal_problems(template: Mapping[str, Any]) -> list[str]:
    """The shape of ``post_as`` and, for journal entries, of ``journal``: a credit account, a
    debit account for every Acumatica payment method of ``methods``, ``release`` true or false.
    (Whether the accounts exist in Acumatica: ``validation.journal``.)"""
    chosen = template.get("post_as", "payment")
    if chosen not in POST_AS:
        return [f"post_as: must be one of {', '.join(POST_AS)}, not {chosen!r}"]
    journal = template.get("journal")
    if chosen == "payment" and journal is None:
        return []
    if not isinstance(journal, Mapping):
        return ["journal: must be a mapping (credit_account, debit_accounts, release)"]
    problems = []
    if not isinstance(journal.get("credit_account"), str) or not journal["credit_account"]:
        problems.append("journal.credit_account: must name a GL account")
    debits = journal.get("debit_accounts")
    if not isinstance(debits, Mapping):
        problems.append("journal.debit_accounts: must map payment methods to GL accounts")
        debits = {}
    for method_id, account in debits.items():
        if not isinstance(account, str) or not account:
            problems.append(f"journal.debit_accounts.{method_id}: must name a GL account")
    if chosen == "journal":
        named = {str(k).upper() for k in debits}
        for name, entry in (template.get("methods") or {}).items():
            if isinstance(entry, Mapping) and str(entry.get("payment_method")).upper() not in named:
                problems.append(
                    f"journal.debit_accounts: no account for {entry.get('payment_method')} "
                    f"(methods.{name})"
                )
    if "subaccount" in journal and not isinstance(journal["subaccount"], str):
        problems.append("journal.subaccount: must be a string")
    if not isinstance(journal.get("release", True), bool):
        problems.append("journal.release: must be true or false")
    return sorted(set(problems))


def returns_problems(returns: Any) -> list[str]:
    """The shape of ``refunds.returns``: ``enabled`` true or false, ``order_type`` a code."""
    if returns is None:
        return []
    if not isinstance(returns, Mapping):
        return ["refunds.returns: must be a mapping (enabled, order_type)"]
    problems = []
    if not isinstance(returns.get("enabled", False), bool):
        problems.append("refunds.returns.enabled: must be true or false")
    order_type = returns.get("order_type", "RC")
    if not isinstance(order_type, str) or not order_type.strip():
        problems.append("refunds.returns.order_type: must name an order type (e.g. RC)")
    return problems
