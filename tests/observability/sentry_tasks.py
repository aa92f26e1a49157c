"""A task on the engine's app that fails permanently with personal data in its input."""

from __future__ import annotations

from sync_workers.celery import app
from sync_workers.errors import PermanentError


@app.task(name="tests.customers.reject_customer", flow="customers")
def reject_customer(*, record_id: str, customer: dict) -> None:
    raise PermanentError(
        f"customer {customer['email']} has no valid state",
        details={"phone": customer["phone"]},
    )


@app.task(name="tests.customers.crash_on_customer", flow="customers")
def crash_on_customer(*, record_id: str, customer: dict) -> None:
    """A bug (not a ``SyncError``): Sentry reports it, without the task's arguments."""
    raise KeyError("billing_address")


@app.task(name="tests.inventory.read_stock_item", flow="inventory")
def read_stock_item(*, record_id: str) -> int:
    """One Acumatica read (429s surface as retries, as in every flow step)."""
    from sync_workers import clients

    return len(clients.acumatica().get_list("StockItem", top=1))
