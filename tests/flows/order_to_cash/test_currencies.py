"""Orders outside the ERP's base currency: their currency, their rate, totals that reconcile."""

from __future__ import annotations

import yaml

from sync_workers import clients
from sync_workers.flows import runner
from sync_workers.mapping import templates
from tasks import payments as payment_tasks  # noqa: F401  (registers the payment steps)
from tests.flows.order_to_cash.helpers import (
    acumatica_stats,
    address,
    checkout,
    entity_calls,
    ledger_rows,
    linked,
    open_dead_letters,
    wait_for,
)


def place(xcart: str, email: str, **extra) -> dict:
    return checkout(
        xcart,
        {
            "email": email,
            "items": [{"sku": "AA-0016", "amount": 3}],
            "billing_address": address("Eur", "O'Pay", "NY"),
            "payment_method": "Credit Card",
            "shipping_cost": 4.2,
            **extra,
        },
    )


def use_store_rate(directory) -> None:
    path = directory / "orders.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["currency"]["rate"] = "store"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    templates.clear_cache()


def synced_sales_order(order: dict) -> dict:
    runner.start("orders", order["id"])
    wait_for(lambda: linked("payments"))
    order_type, order_nbr = linked("orders")[str(order["id"])].split("/")
    return clients.acumatica().get_by_keys(
        "SalesOrder", order_type, order_nbr, expand=["Payments", "Totals"]
    )


def test_an_order_in_euros_takes_acumaticas_rate_and_its_totals_reconcile(
    sandboxes, clean_ledger, celery_worker
) -> None:
    order = place(sandboxes["xcart"].url, "euro.buyer@example.com", currency="EUR")

    so = synced_sales_order(order)

    assert so["CurrencyID"] == "EUR" and so["CurrencyRate"] == 1.0825  # the tenant's SPOT rate
    assert so["OrderTotal"] == order["total"]
    assert so["Totals"]["UnpaidBalance"] == 0.0
    [payment] = so["Payments"]
    assert payment["Currency"] == "EUR" and payment["AppliedToOrder"] == order["total"]
    [record] = ledger_rows("orders")
    assert "total_difference" not in record.data
    assert not open_dead_letters()


def test_with_the_store_rate_the_order_carries_the_rate_the_store_used(
    sandboxes, clean_ledger, celery_worker, fast_templates
) -> None:
    use_store_rate(fast_templates)
    xcart = sandboxes["xcart"].url
    order = place(
        xcart, "store.rate@example.com", currency="EUR",
        selected_currency={"code": "USD", "rate": 1.0911},
    )  # fmt: skip
    no_rate = place(xcart, "no.rate@example.com", currency="GBP")

    so = synced_sales_order(order)
    runner.start("orders", no_rate["id"])

    assert so["CurrencyID"] == "EUR" and so["CurrencyRate"] == 1.0911
    [entry] = wait_for(lambda: open_dead_letters("orders"))
    assert entry.record_id == str(no_rate["id"])
    assert entry.field_errors == {
        "selected_multi_currency_rate": "no rate from GBP to USD in the order"
    }


def test_an_order_in_a_currency_the_tenant_lacks_is_dead_lettered_naming_the_field(
    sandboxes, clean_ledger, celery_worker
) -> None:
    xcart, acumatica = sandboxes["xcart"].url, sandboxes["acumatica"].url
    order = place(xcart, "franc.buyer@example.com", currency="CHF")

    runner.start("orders", order["id"])

    [entry] = wait_for(lambda: open_dead_letters("orders"))
    assert entry.field_errors == {"currency": "unknown currency 'CHF'"}
    assert entry.step == "validate"
    writes = [k for k in entity_calls(acumatica_stats(acumatica)) if k.startswith("PUT")]
    assert writes == []
