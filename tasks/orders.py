"""Order tasks (X-Cart -> Acumatica): one per order.

``tasks.orders.sync`` runs fetch -> validate -> transform -> push -> write back, then records
the order's payments in the same task (``tasks.payments.sync_inline``); a payment that fails
there is handed to its own ``tasks.payments.sync_transaction``, which retries and dead-letters
it on its own. The steps are plain calls of ``sync_workers.flows.orders``; a dead letter names
the step that failed, and a retry or replay runs the task again from the fetch (every step is
idempotent; the push looks the order up first once a PUT may have gone out).

Older shapes stay registered for messages queued by an older version and for replays of their
dead letters, and each continues in the shape above: ``tasks.orders.fetch`` (the first of two
tasks per order) is ``tasks.orders.sync``; ``tasks.orders.push`` (the second) and the
one-task-per-step ``validate``, ``transform`` and ``write_back`` run their step and the rest.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sync_workers.celery import app
from sync_workers.connectors.dates import parse_optional
from sync_workers.flows import orders
from sync_workers.flows.base import LedgerTask
from sync_workers.tracing import trace
from tasks import payments as payment_tasks

STEP = {"base": LedgerTask, "flow": "orders", "record_arg": 0, "bind": True}

#: The steps ``tasks.orders.sync`` runs after the fetch itself and before the push, in order.
PREPARE: tuple[tuple[str, Callable[[dict[str, Any]], dict[str, Any]]], ...] = (
    ("validate", orders.validate),
    ("transform", orders.transform),
)


def start(
    order_id: int | str,
    order: dict[str, Any] | None = None,
    verify: bool = False,
    remote: dict[str, Any] | None = None,
) -> str:
    """Start one order's task under a new trace id; returns the task's id.

    ``order``: the order as just read by a poll or received by a webhook (saves a read).
    ``verify``: look in Acumatica before creating even when the ledger says new (resyncs).
    ``remote``: the poll's batched look-up of the order (see ``orders.look_up_batch``).
    """
    kwargs = {"record_id": str(order_id), "order": order, "verify": verify, "remote": remote}
    with trace():
        return str(sync.apply_async(kwargs=kwargs).id)


def _sync(
    task: LedgerTask,
    record_id: str,
    order: dict[str, Any] | None,
    verify: bool,
    remote: dict[str, Any] | None,
) -> dict[str, Any]:
    task.drop_chain()
    state = task.run_step("fetch", orders.fetch, record_id, order, verify, remote)
    return _prepare(task, state, after=None)


def _order_task(
    self: LedgerTask,
    record_id: str,
    order: dict[str, Any] | None = None,
    verify: bool = False,
    remote: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The whole order: its sales order once, then its payments."""
    return _sync(self, record_id, order, verify, remote)


ORDER_TASK = {"base": LedgerTask, "flow": "orders", "record_arg": "record_id", "bind": True}
sync = app.task(name="tasks.orders.sync", **ORDER_TASK)(_order_task)
#: The first of two tasks per order in the previous version: the same task under its old name.
fetch = app.task(name="tasks.orders.fetch", **ORDER_TASK)(_order_task)


def _prepare(task: LedgerTask, state: dict[str, Any], *, after: str | None) -> dict[str, Any]:
    """Run the steps of ``PREPARE`` that come after ``after`` (all of them for ``None``),
    then the push and the rest."""
    names = [name for name, _ in PREPARE]
    first = 0 if after is None else names.index(after) + 1
    for name, step in PREPARE[first:]:
        state = task.run_step(name, step, state)
    return _push(task, state)


def _push(task: LedgerTask, state: dict[str, Any]) -> dict[str, Any]:
    # the order's and its payments' locks, in one round trip; a busy lock fails the push step
    with task.run_step("push", orders.locked, state):
        state = task.run_step("push", orders.push, state)
        return _write_back(task, state)


@app.task(name="tasks.orders.push", **STEP)
def push(self: LedgerTask, state: dict[str, Any]) -> dict[str, Any]:
    """Older messages' second task: push, write back and the payments.

    Works on a copy: a retry gets the state as it was handed over, never half-pushed."""
    self.drop_chain()
    return _push(self, dict(state))


def _write_back(task: LedgerTask, state: dict[str, Any]) -> dict[str, Any]:
    """Record the result, then each payment to record: here, or in its own task if it fails."""
    state = task.run_step("write_back", orders.write_back, state)
    code = (state["order"].get("payment_status") or {}).get("code")
    link = orders.ledger_link(state)
    payments = [
        payment_tasks.sync_inline(
            txn,
            order_id=state["record_id"],
            order_payment_code=code,
            # a sales order this task created has no payments yet: nothing to look up
            verify=bool(state.get("verify")) and not state.get("created"),
            link=link,
        )
        for txn in orders.payment_transactions(state)
    ]
    return {
        "record_id": state["record_id"],
        "target_key": state.get("target_key"),
        "skip": state.get("skip"),
        "payments": payments,
    }


# One task per step, as queued by older versions: each continues in the current shape.


@app.task(name="tasks.orders.validate", **STEP)
def validate(self: LedgerTask, state: dict[str, Any]) -> dict[str, Any]:
    self.drop_chain()
    state = self.run_step("validate", orders.validate, dict(state))
    return _prepare(self, state, after="validate")


@app.task(name="tasks.orders.transform", **STEP)
def transform(self: LedgerTask, state: dict[str, Any]) -> dict[str, Any]:
    self.drop_chain()
    state = self.run_step("transform", orders.transform, dict(state))
    return _prepare(self, state, after="transform")


@app.task(name="tasks.orders.write_back", **STEP)
def write_back(self: LedgerTask, state: dict[str, Any]) -> dict[str, Any]:
    self.drop_chain()
    return _write_back(self, dict(state))


@app.task(name="tasks.orders.poll", flow="orders", record_arg="ids")
def poll(
    since: str | None = None,
    ids: list[str] | None = None,
    all: bool = False,
    dry_run: bool = False,
    follow_up: str | None = None,
) -> dict[str, Any]:
    """Start one chain per changed order (cursor), or per ``ids`` / since ``since`` / ``all``.

    A cursor poll leaves orders younger than ``settle_seconds`` for later; it then books one
    follow-up poll for when they are old enough (``follow_up``: its booking), so they do not
    wait a whole poll interval (see ``orders.claim_follow_up``).

    The resync forms look the orders up in Acumatica before creating them (one call per batch
    of ``LOOK_UP_BATCH``, handed to each chain), so they also repair a lost or restored ledger
    without duplicating anything. Each poll also restarts orders whose chain made no progress
    for ``STALL_SECONDS`` (a message lost in a broker crash): every order handed out has a
    ledger row before its message is published.
    """
    if dry_run:
        return {"plan": [c.as_dict() for c in orders.plan(since, ids, all)]}
    if (since or all) and not ids:
        return _resync_chunk(since)
    settling: list[datetime] = []
    if ids:
        found = orders.read_orders(ids)
        for at in range(0, len(found), orders.LOOK_UP_BATCH):  # first chains run meanwhile
            _hand_out(found[at : at + orders.LOOK_UP_BATCH], verify=True)
    else:
        if follow_up is not None:
            orders.release_follow_up(follow_up)
        changed, cursor = orders.cursor_orders(settling)
        changed.sort(key=lambda o: (orders.update_moment(o), str(o["id"])))
        found = [(str(o["id"]), o) for o in changed]
        for at in range(0, len(found), HAND_OUT_BATCH):
            _hand_out(found[at : at + HAND_OUT_BATCH], verify=False)
            if at + HAND_OUT_BATCH < len(found):  # a poll killed later does not redo these
                following = orders.update_moment(changed[at + HAND_OUT_BATCH])
                cursor.checkpoint(following - timedelta(microseconds=1))
        cursor.commit()  # only now: each order has its ledger row and its message
    restarted = [] if ids else orders.stalled()
    for order_id in restarted:  # a lost chain: look in Acumatica first, the PUT may have landed
        start(order_id, None, verify=True)
    booked = orders.claim_follow_up(settling, after=follow_up)
    if booked is not None:
        poll.apply_async(kwargs={"follow_up": booked[0]}, countdown=booked[1])
    return {
        "started": [order_id for order_id, _ in found],
        "restarted": restarted,
        "follow_up_in": round(booked[1], 3) if booked else None,
    }


#: Orders a cursor poll hands out before it saves its progress: a poll killed in the middle of
#: a large window leaves the next one only what it had not handed out yet (the orders of the
#: window are handed out in update order, so a checkpoint just before the next one's time holds).
HAND_OUT_BATCH = 200

#: Orders one resync task hands out before it passes the rest to a new task: a backfill of
#: 100,000 orders would otherwise hold them all in one process and outlive the time limit.
RESYNC_CHUNK = 2000


def _resync_chunk(since: str | None) -> dict[str, Any]:
    """Hand out up to ``RESYNC_CHUNK`` orders changed since ``since`` (None: all), batch by batch
    as they are looked up, then continue in a new poll task from the last update time reached.

    Only X-Cart's ascending ``lastRenewDate`` listing can be continued that way; without it the
    whole resync runs in this task (still one page and one batch in memory at a time). Orders of
    the second where a chunk stops may be handed out twice: their chains find the ledger row.
    """
    listing = orders.changed_orders(since=since, all=since is None)
    chunked = orders.resync_can_continue()
    handed = 0
    last: str | None = None
    batch: list[tuple[str, dict[str, Any]]] = []

    for order in listing:
        batch.append((str(order["id"]), order))
        last = order.get("update_date") or last
        handed += 1
        if len(batch) >= orders.LOOK_UP_BATCH:
            _hand_out(batch, verify=True)
            batch = []
            if chunked and handed >= RESYNC_CHUNK and _moved_past(last, since):
                poll.apply_async(kwargs={"since": str(last)})
                return {"handed_out": handed, "continues_since": str(last)}
    if batch:
        _hand_out(batch, verify=True)
    return {"handed_out": handed, "continues_since": None}


def _hand_out(batch: Sequence[tuple[str, dict[str, Any] | None]], *, verify: bool) -> None:
    """Start a chain per order, each with a ledger row first; ``verify`` (resyncs) looks the
    batch up in Acumatica in one call and hands each chain its answer."""
    readable = (o for _, o in batch if o is not None)
    remote = orders.look_up_batch(readable) if verify else {}
    orders.note_handed_out(order_id for order_id, _ in batch)
    for order_id, order in batch:
        start(order_id, order, verify=verify, remote=remote.get(order_id))


def _moved_past(last: str | None, since: str | None) -> bool:
    """A continuation from ``last`` makes progress (more orders than a chunk sharing the second
    the resync started from would otherwise be read again and again)."""
    if last is None:
        return False
    if since is None:
        return True
    reached, started = parse_optional(last), parse_optional(since)
    return reached is not None and started is not None and reached > started


@app.task(name="tasks.orders.realtime_on_webhook", flow="orders", record_arg="data")
def realtime_on_webhook(event: str, data: dict[str, Any]) -> dict[str, Any]:
    """A signed X-Cart store webhook (``order.*``): start the same chain a poll would."""
    nested = data.get("order")
    order: dict[str, Any] = nested if isinstance(nested, dict) else data
    order_id = order.get("id")
    if order_id is None:
        return {"started": None, "event": event}
    return {"started": start(order_id, order if order.get("items") else None), "event": event}


@app.task(name="tasks.orders.realtime_on_push", flow="orders", record_arg="notification")
def realtime_on_push(notification: dict[str, Any]) -> dict[str, Any]:
    """An Acumatica push notification (query ``SalesOrders``): record the new statuses."""
    return {"updated": orders.record_statuses(notification), "id": notification.get("Id")}
