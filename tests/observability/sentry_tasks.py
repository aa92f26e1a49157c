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
