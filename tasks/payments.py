"""Payment tasks (X-Cart transaction -> Acumatica payment applied to the sales order).

An order's task records its payments itself (:func:`sync_inline`); a payment that fails there,
and a payment a poll finds missing, runs as ``tasks.payments.sync_transaction``: prepare -> push
as plain calls of ``sync_workers.flows.payments`` (a dead letter names the step that failed).
``tasks.payments.prepare`` and ``tasks.payments.push`` (one task per step, as before) stay
registered for messages queued by an older version and replays of their dead letters.
"""

from __future__ import annotations

import logging
from typing import Any

from sync_workers.celery import app
from sync_workers.flows import payments
from sync_workers.flows.base import LedgerTask
from sync_workers.tracing import trace

log = logging.getLogger(__name__)

STEP = {"base": LedgerTask, "flow": "payments", "bind": True}


def sync_inline(
    transaction: dict[str, Any],
    *,
    order_id: str,
    order_payment_code: str | None = None,
    verify: bool = False,
    link: tuple[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Record one transaction's payment now, in the calling task (an order's), sparing a task.

    Any failure hands it to its own task (:func:`start`), which retries it and dead-letters it
    under its own record id, so the order's task never fails for its payment. Returns the
    payment's ``target_key``/``skip``, or the ``task`` it was handed to. ``link``: the order's
    sales order key and ledger data, when the order's task has just linked it.
    """
    record_id = str(transaction["id"])
    try:
        state = payments.prepare(
            record_id, order_id, transaction, order_payment_code, verify, link=link
        )
        state = payments.push(state)
    except Exception as exc:
        log.info(
            "payment %s of order %s: %s: %s; continuing in its own task",
            record_id,
            order_id,
            type(exc).__name__,
            exc,
            extra={"flow": "payments", "record_id": record_id},
        )
        task_id = start(
            transaction, order_id=order_id, order_payment_code=order_payment_code, verify=verify
        )
        return {"record_id": record_id, "task": task_id}
    return {
        "record_id": record_id,
        "target_key": state.get("target_key"),
        "skip": state.get("skip"),
    }


def start(
    transaction: dict[str, Any],
    *,
    order_id: str,
    order_payment_code: str | None = None,
    verify: bool = False,
) -> str:
    """Start one transaction's task (in the caller's trace, so an order and its payments share
    one); returns the task's id."""
    payments.note_handed_out(str(transaction["id"]))
    task = sync_transaction.apply_async(
        kwargs={
            "record_id": str(transaction["id"]),
            "order_id": str(order_id),
            "transaction": transaction,
            "order_payment_code": order_payment_code,
            "verify": verify,
        }
    )
    return str(task.id)


@app.task(name="tasks.payments.sync_transaction", record_arg="record_id", **STEP)
def sync_transaction(
    self: LedgerTask,
    record_id: str,
    order_id: str,
    transaction: dict[str, Any] | None = None,
    order_payment_code: str | None = None,
    verify: bool = False,
) -> dict[str, Any]:
    """The payment of one transaction, once (waits for the order's sales order)."""
    return _sync(self, record_id, order_id, transaction, order_payment_code, verify)


@app.task(name="tasks.payments.prepare", record_arg="record_id", **STEP)
def prepare(
    self: LedgerTask,
    record_id: str,
    order_id: str,
    transaction: dict[str, Any] | None = None,
    order_payment_code: str | None = None,
    verify: bool = False,
) -> dict[str, Any]:
    """Older messages' first step: the whole of ``sync_transaction``."""
    return _sync(self, record_id, order_id, transaction, order_payment_code, verify)


def _sync(
    task: LedgerTask,
    record_id: str,
    order_id: str,
    transaction: dict[str, Any] | None,
    order_payment_code: str | None,
    verify: bool,
) -> dict[str, Any]:
    task.drop_chain()
    state = task.run_step(
        "prepare", payments.prepare, record_id, order_id, transaction, order_payment_code, verify
    )
    return task.run_step("push", payments.push, state)


@app.task(name="tasks.payments.push", record_arg=0, **STEP)
def push(self: LedgerTask, state: dict[str, Any]) -> dict[str, Any]:
    """Older messages' second step."""
    self.drop_chain()
    return self.run_step("push", payments.push, dict(state))


@app.task(name="tasks.payments.write_back_status", flow="payments", record_arg="record_id")
def write_back_status(record_id: str) -> dict[str, Any]:
    """``record_id``: ``<Type>/<ReferenceNbr>`` of an Acumatica payment."""
    payment_type, reference_nbr = record_id.split("/", 1)
    return payments.write_back_status(payment_type, reference_nbr)


def start_status(payment_type: str, reference_nbr: str) -> str:
    with trace():
        task = write_back_status.apply_async(
            kwargs={"record_id": f"{payment_type}/{reference_nbr}"}
        )
        return str(task.id)


@app.task(name="tasks.payments.realtime_on_push", flow="payments", record_arg="notification")
def realtime_on_push(notification: dict[str, Any]) -> dict[str, Any]:
    """An Acumatica push notification (query ``Payments``): status write-back to X-Cart."""
    keys = payments.payments_in_push(notification)
    for payment_type, reference_nbr in keys:
        start_status(payment_type, reference_nbr)
    return {"started": ["/".join(k) for k in keys], "id": notification.get("Id")}


@app.task(name="tasks.payments.poll", flow="payments", record_arg="ids")
def poll(
    since: str | None = None,
    ids: list[str] | None = None,
    all: bool = False,
    dry_run: bool = False,
) -> dict[str, Any]:
    """Payments missing for synced orders (``ids``: those X-Cart order ids only), and status
    write-backs for payments changed in Acumatica since the cursor."""
    if dry_run:
        return {"plan": [c.as_dict() for c in payments.plan(since, ids, all)]}
    started = []
    order_ids = [str(i) for i in ids] if ids else None
    for order_id, txn in payments.unsynced_transactions(order_ids, full=all):
        with trace():
            start(txn, order_id=order_id, verify=True)
        started.append(str(txn["id"]))
    statuses = []
    if not ids:
        for payment_type, reference_nbr in payments.changed_acumatica_payments():
            start_status(payment_type, reference_nbr)
            statuses.append(f"{payment_type}/{reference_nbr}")
    return {"started": started, "status_write_backs": statuses}
