"""Inventory tasks (Acumatica -> X-Cart stock): push trigger, poll safety net, coalesced flush."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sync_workers.celery import app
from sync_workers.connectors.dates import parse_datetime
from sync_workers.errors import TransientError
from sync_workers.flows import inventory


def _schedule(skus: Iterable[str], *, delay: float | None = None) -> list[str]:
    """One flush per SKU per coalescing window (after ``delay``, by default the window)."""
    countdown = inventory.config().coalesce_window if delay is None else delay
    scheduled = inventory.schedule(skus)
    for sku in scheduled:
        push_stock.apply_async(kwargs={"sku": sku}, countdown=countdown)
    return scheduled


@app.task(name="tasks.inventory.realtime_on_push", flow="inventory", record_arg="notification")
def realtime_on_push(notification: dict[str, Any]) -> dict[str, Any]:
    """An Acumatica push notification (as received by the webhook receiver)."""
    skus = inventory.on_push(notification)
    return {"skus": skus, "scheduled": _schedule(skus)}


#: Longest wait between two looks at a SKU whose lock another flush holds (a flush killed with
#: its worker holds it until the lock times out).
MAX_DEFER_SECONDS = 30.0


@app.task(name="tasks.inventory.push_stock", flow="inventory", record_arg="sku")
def push_stock(sku: str, deferrals: int = 0) -> dict[str, Any]:
    """Write the current amount of one SKU to X-Cart when it differs.

    When another flush holds the SKU, this one is not a failure to retry (and never a dead
    letter): it is scheduled again, waiting longer each time, until the other flush finishes or
    its lock expires.
    """
    try:
        return inventory.push_stock(sku)
    except TransientError as exc:
        if exc.details.get("reason") != "locked":
            raise
    delay = min(MAX_DEFER_SECONDS, max(inventory.config().coalesce_window, 0.5 * 2**deferrals))
    for key in inventory.schedule([sku]):  # none when a flush is already on its way
        push_stock.apply_async(kwargs={"sku": key, "deferrals": deferrals + 1}, countdown=delay)
    return {"record_id": sku, "action": "deferred", "reason": "busy", "again_in": delay}


@app.task(name="tasks.inventory.poll", flow="inventory", record_arg="ids")
def poll(
    since: str | None = None,
    ids: list[str] | None = None,
    all: bool = False,
    dry_run: bool = False,
) -> dict[str, Any]:
    """Safety net: the SKUs Acumatica changed since the last poll (one request when idle), and
    every store SKU whose X-Cart amount differs from the expected one at each full comparison.

    ``ids`` limits the check to those SKUs and ``all`` flushes every SKU (resync); ``since`` is
    accepted for the common resync interface, but availability has no modification date, so it
    flushes every SKU too. ``dry_run`` returns the plan without writing.
    """
    if dry_run:
        moment = parse_datetime(since) if since else None
        return {"plan": [c.as_dict() for c in inventory.plan(moment, ids, all)]}
    if ids is not None or all or since is not None:
        changed = inventory.changed_skus(ids, all=all or since is not None)
        return {"changed": changed, "scheduled": _schedule(inventory.push_now(changed), delay=0)}
    found = inventory.poll_changes()
    # The first SKUs are written at once (no wait behind the next poll), the rest by flushes.
    scheduled = _schedule(inventory.push_now(found.skus), delay=0)
    found.commit()
    return {"changed": found.skus, "scheduled": scheduled, "full": found.full}
