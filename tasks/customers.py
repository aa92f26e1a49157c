"""Customer tasks: X-Cart profiles -> Acumatica customers and Acumatica-owned fields back."""

from __future__ import annotations

from typing import Any

from sync_workers.celery import app
from sync_workers.flows import customers
from sync_workers.flows.base import LedgerTask
from sync_workers.tracing import trace


def start_profile(profile_id: int | str) -> str:
    with trace():
        return str(sync_profile.apply_async(kwargs={"record_id": str(profile_id)}).id)


def start_customer(customer_id: str) -> str:
    with trace():
        return str(sync_from_acumatica.apply_async(kwargs={"record_id": customer_id}).id)


@app.task(
    name="tasks.customers.sync_profile",
    base=LedgerTask,
    flow="customers",
    record_arg="record_id",
    ledger_prefix="profile:",
)
def sync_profile(record_id: str) -> dict[str, Any]:
    """Match or create the profile's customer; apply changes per the system of record."""
    return customers.sync_profile(int(record_id))


@app.task(
    name="tasks.customers.sync_from_acumatica",
    base=LedgerTask,
    flow="customers",
    record_arg="record_id",
    ledger_direction=customers.REVERSE,
)
def sync_from_acumatica(record_id: str) -> dict[str, Any]:
    """Write the fields Acumatica owns to the linked X-Cart profile."""
    return customers.sync_from_acumatica(record_id)


@app.task(name="tasks.customers.poll", flow="customers", record_arg="ids")
def poll(
    since: str | None = None,
    ids: list[str] | None = None,
    all: bool = False,
    dry_run: bool = False,
) -> dict[str, Any]:
    """Changed X-Cart profiles (scan + hash) and changed Acumatica customers, one task each.

    A cursor poll scans the profiles at most every ``poll.profile_scan_seconds`` (every page:
    X-Cart has no updated-since filter); in between it reads only Acumatica.

    ``ids`` are X-Cart profile ids (``5`` or ``profile:5``, as drift reports them).
    """
    if dry_run:
        return {"plan": [c.as_dict() for c in customers.plan(since, ids, all)]}
    changed: list[str] = []
    if ids:
        profiles = [str(i).removeprefix("profile:") for i in ids]
        for profile_id in profiles:
            start_profile(profile_id)
        return {"profiles": profiles, "customers": changed}
    cursor_poll = since is None and not all
    scan = not cursor_poll or customers.profile_scan_due()
    profiles = [str(p["id"]) for p, _ in customers.changed_profiles(all=all)] if scan else []
    for profile_id in profiles:
        start_profile(profile_id)
    # Started as they are read: the cursor moves past the last one only once it is started.
    for customer_id in customers.changed_acumatica_customers(since, all=all):
        start_customer(customer_id)
        changed.append(customer_id)
    if cursor_poll and scan:
        customers.profiles_scanned()
    return {"profiles": profiles, "customers": changed}


@app.task(name="tasks.customers.realtime_on_webhook", flow="customers", record_arg="data")
def realtime_on_webhook(event: str, data: dict[str, Any]) -> dict[str, Any]:
    """A signed X-Cart store webhook (``profile.*``)."""
    profile_id = data.get("id")
    if profile_id is None or data.get("access_level", 0) != 0:
        return {"started": None, "event": event}
    return {"started": start_profile(profile_id), "event": event}


@app.task(name="tasks.customers.realtime_on_push", flow="customers", record_arg="notification")
def realtime_on_push(notification: dict[str, Any]) -> dict[str, Any]:
    """An Acumatica push notification (query ``Customers``)."""
    started = [start_customer(c) for c in customers.customers_in_push(notification)]
    return {"started": started, "id": notification.get("Id")}
