"""Payment tasks (X-Cart transaction -> Acumatica payment applied to the sales order)."""

from __future__ import annotations

from typing import Any

from celery import chain

from sync_workers.celery import app
from sync_workers.flows import payments
from sync_workers.flows.base import LedgerTask
from sync_workers.tracing import trace


def start(
    transaction: dict[str, Any], *, order_id: str, order_payment_code: str | None = None
) -> str:
    """Start one transaction's chain (in the caller's trace, so an order and its payments share
    one); returns the first task's id."""
    steps = chain(
        prepare.si(
            record_id=str(transaction["id"]),
            order_id=str(order_id),
            transaction=transaction,
            order_payment_code=order_payment_code,
        ),
        push.s(),
    )
    return str(steps.apply_async().id)


@app.task(name="tasks.payments.prepare", base=LedgerTask, flow="payments", record_arg="record_id")
def prepare(
    record_id: str,
    order_id: str,
    transaction: dict[str, Any] | None = None,
    order_payment_code: str | None = None,
) -> dict[str, Any]:
    return payments.prepare(record_id, order_id, transaction, order_payment_code)


@app.task(name="tasks.payments.push", base=LedgerTask, flow="payments", record_arg=0)
def push(state: dict[str, Any]) -> dict[str, Any]:
    return payments.push(state)


@app.task(name="tasks.payments.poll", flow="payments", record_arg="ids")
def poll(
    since: str | None = None,
    ids: list[str] | None = None,
    all: bool = False,
    dry_run: bool = False,
) -> dict[str, Any]:
    """Payments missing for synced orders (``ids``: those X-Cart order ids only)."""
    if dry_run:
        return {"plan": [c.as_dict() for c in payments.plan(since, ids, all)]}
    started = []
    for order_id, txn in payments.unsynced_transactions([str(i) for i in ids] if ids else None):
        with trace():
            start(txn, order_id=order_id)
        started.append(str(txn["id"]))
    return {"started": started}
