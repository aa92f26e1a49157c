"""Figure: top-1 accuracy of the mapping assistant on a data set with known answers.

The ERP side is a merchant's tenant: the Acumatica sandbox's reference lists extended over its
contract-based REST API (``PUT ShipVia``, ``PUT PaymentMethod`` with allowed cash accounts) with
codes and descriptions as a tenant has them; its taxes are the sandbox's own (a tax for each
region the store's shoppers are taxed in). The store side is a store that
renamed its payment and shipping methods, taxes regions the bundled template does not map,
and typed state names instead of picking codes. The emulated X-Cart store only sells with its
own fixed method names, so each such record is run through the engine's own mapping and
validation functions, and the refusal they raise becomes a dead letter in Redis, as a worker
would write it. The assistant then reads the dead letters and Acumatica's lists through the API,
exactly as ``celery mapping suggest`` does; each value's first suggestion is compared with the
known answer. Target: at least 90 %.

``python -m bench.mapping_assistant`` runs it on a private stack (its own Redis and sandboxes,
the bundled templates), as ``python -m bench`` runs its parts; :func:`run` runs it on the
services of the current settings (the test suite's).
"""

from __future__ import annotations

import copy
import json
import sys
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from sync_workers.dlq import DeadLetter, DeadLetterQueue
from sync_workers.errors import PermanentError

#: The top-1 accuracy to reach.
TARGET = 0.9
#: ShipVia codes a tenant has set up (CS207500): (CarrierID, Description).
SHIP_VIAS = (
    ("FEDEX", "FedEx Express"),
    ("FEDEXGRND", "FedEx Ground"),
    ("UPS", "UPS"),
    ("UPSGROUND", "UPS Ground"),
    ("UPS2DAY", "UPS 2nd Day Air"),
    ("USPS", "USPS First-Class Mail"),
    ("USPSPRIO", "USPS Priority Mail"),
    ("DHL", "DHL Express Worldwide"),
    ("LOCAL", "Local delivery van"),
    ("PICKUP", "Customer pickup at the store"),
    ("FREIGHT", "LTL freight"),
)
#: Payment methods (CA204000): (PaymentMethodID, Description, allowed cash account).
PAYMENT_METHODS = (
    ("CHECK", "Check", "10200WH"),
    ("CASH", "Cash", "10100"),
    ("CREDITCARD", "Credit card", "10250ST"),
    ("PAYPAL", "PayPal", "10300PP"),
    ("STRIPE", "Stripe", "10250ST"),
    ("WIRE", "Wire transfer", "10200WH"),
    ("AMEX", "American Express", "10250ST"),
    ("GIFTCERT", "Gift certificate", "10100"),
)
#: (field, the store's value, the right Acumatica code).
CASES: tuple[tuple[str, str, str], ...] = (
    ("shipping_method", "UPS® Ground (3 to 5 business days)", "UPSGROUND"),
    ("shipping_method", "FedEx Ground Home Delivery", "FEDEXGRND"),
    ("shipping_method", "Fed-Ex Express Saver", "FEDEX"),
    ("shipping_method", "UPS Second Day Air", "UPS2DAY"),
    ("shipping_method", "USPS Priority", "USPSPRIO"),
    ("shipping_method", "US Mail First Class", "USPS"),
    ("shipping_method", "DHL Worldwide", "DHL"),
    ("shipping_method", "Pick up in store", "PICKUP"),
    ("shipping_method", "Local van delivery", "LOCAL"),
    ("shipping_method", "Freight (LTL)", "FREIGHT"),
    ("payment_method", "Credit or debit card", "CREDITCARD"),
    ("payment_method", "PayPal Express Checkout", "PAYPAL"),
    ("payment_method", "Stripe Payments", "STRIPE"),
    ("payment_method", "Bank wire transfer", "WIRE"),
    ("payment_method", "Cheque", "CHECK"),
    ("payment_method", "Cash on pickup", "CASH"),
    ("payment_method", "AmEx", "AMEX"),
    ("payment_method", "Credit Card (Authorize.Net)", "CREDITCARD"),
    ("payment_method", "Gift Certificate", "GIFTCERT"),
    ("tax_region", "CA-QC", "QCGSTQST"),
    ("tax_region", "CA-ON", "ONHST"),
    ("tax_region", "CA-BC", "BCGSTPST"),
    ("tax_region", "CA-AB", "ABGST"),
    ("tax_region", "CA-NS", "NSHST"),
    ("tax_region", "US-WA", "WASTATE"),
    ("tax_region", "US-FL", "FLSTATE"),
    ("tax_region", "US-IL", "ILSTATE"),
    ("tax_region", "US-NJ", "NJSTATE"),
    ("tax_region", "US-PA", "PASTATE"),
    ("state", "Calif.", "US-CA"),
    ("state", "Pensylvania", "US-PA"),
    ("state", "Massachusets", "US-MA"),
    ("state", "N. Carolina", "US-NC"),
    ("state", "Province de Québec", "CA-QC"),
    ("state", "Newfoundland", "CA-NL"),
    ("state", "Brit. Columbia", "CA-BC"),
)

ADDRESS = {
    "firstname": "Ann",
    "lastname": "Example",
    "street": "1 Main St",
    "city": "Springfield",
    "zipcode": "00000",
}


def seed_acumatica(client: Any) -> None:
    """The tenant's ship vias and payment methods, written through the contract-based API."""
    for code, description in SHIP_VIAS:
        client.put(
            "ShipVia",
            {"CarrierID": code, "Description": description, "CalculationMethod": "Manual"},
        )
    for code, description, account in PAYMENT_METHODS:
        client.put(
            "PaymentMethod",
            {
                "PaymentMethodID": code,
                "Description": description,
                "Active": True,
                "UseInAR": True,
                "AllowedCashAccounts": [
                    {"CashAccount": account, "UseInAR": True, "ARDefault": True}
                ],
            },
        )


def _refusal(field: str, value: str, templates: Callable[[str], dict[str, Any]]) -> dict[str, str]:
    """The field reasons the engine's own functions give for a record carrying ``value``."""
    from sync_workers.connectors.xcart.states import BUILT_IN_IDS
    from sync_workers.mapping import addresses, orders, payments

    order_tmpl = templates("orders")
    try:
        if field == "shipping_method":
            orders.ship_via({"shipping_method_name": value}, order_tmpl)
        elif field == "payment_method":
            payments.method({"local_name": value, "name": value}, templates("payments"))
        elif field == "tax_region":
            state_id = next(i for i, iso in BUILT_IN_IDS.items() if iso == value)
            address = {**ADDRESS, "country_code": value[:2], "state": state_id}
            orders.tax_id(
                {"shipping_address": address, "surcharges": [{"type": "tax", "value": 1}]},
                order_tmpl,
            )
        elif field == "state":
            country = (
                "CA" if value in ("Province de Québec", "Newfoundland", "Brit. Columbia") else "US"
            )
            problems = addresses.address_problems(
                {**ADDRESS, "country_code": country, "state_name": value},
                addresses.state_table(order_tmpl),
            )
            return {f"shipping_address.{k}": v for k, v in problems.items()}
    except PermanentError as exc:
        return dict(exc.field_errors or {})
    return {}


def dead_letter(field: str, value: str, reasons: Mapping[str, str], n: int) -> DeadLetter:
    flow = "payments" if field == "payment_method" else "orders"
    return DeadLetter(
        flow=flow,
        record_id=f"bench-{n}",
        task=f"tasks.{flow}.sync",
        step="transform",
        task_id=uuid.uuid4().hex,
        args=[],
        kwargs={"record_id": f"bench-{n}"},
        error_class="PermanentError",
        error_message=f"record bench-{n} cannot be mapped",
        field_errors=dict(reasons),
    )


def run(queue: DeadLetterQueue, acumatica: Any) -> dict[str, Any]:
    """Seed, dead-letter every case, rank; the accuracy and each miss."""
    from sync_workers.mapping.assistant.suggest import open_items
    from sync_workers.mapping.templates import load_template

    seed_acumatica(acumatica)
    answers: dict[tuple[str, str], str] = {}
    for n, (field, value, answer) in enumerate(CASES):
        reasons = _refusal(field, value, lambda flow: copy.deepcopy(load_template(flow)))
        if not reasons:
            raise RuntimeError(f"the engine maps {field} {value!r} already: not a test case")
        queue.add(dead_letter(field, value, reasons, n))
        answers[(field, value)] = answer
    items = {(i.field.name, i.value): i for i in open_items(queue, acumatica)}
    misses = []
    right = 0
    confident = confident_right = 0
    for key, answer in answers.items():
        item = items.get(key)
        best = item.best if item else None
        if best is not None and best.code == answer:
            right += 1
        else:
            misses.append(
                {
                    "field": key[0],
                    "value": key[1],
                    "answer": answer,
                    "top": best.code if best else None,
                }
            )
        if best is not None and best.confident:
            confident += 1
            confident_right += best.code == answer
    return {
        "cases": len(answers),
        "top1": right,
        "top1_accuracy": right / len(answers),
        "confident": confident,
        "confident_right": confident_right,
        "misses": misses,
    }


def run_on_stack(*, keep: bool = False) -> dict[str, Any]:
    """:func:`run` on a private stack (its own Redis and sandboxes, the bundled templates)."""
    from bench.stack import Stack

    with Stack(name="bench-mapping-assistant", keep=keep) as stack:
        stack.start_redis()
        stack.start_sandboxes()
        stack.apply_env()
        from sync_workers import clients
        from sync_workers.mapping import templates
        from sync_workers.task import get_dlq

        templates.use_templates_dir(None)
        clients.close_all()
        try:
            return run(get_dlq(), clients.acumatica())
        finally:
            clients.close_all()


def main() -> int:
    result = run_on_stack()
    print(json.dumps(result, indent=2, ensure_ascii=False))
    return 0 if result["top1_accuracy"] >= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
