"""Shipment tasks (Acumatica -> X-Cart): fetch -> write back, from polls and push notifications."""

from __future__ import annotations

from typing import Any

from celery import chain

from sync_workers.celery import app
from sync_workers.flows import shipments
from sync_workers.tracing import trace


def start(shipment_nbr: str) -> str:
    steps = chain(fetch.si(record_id=str(shipment_nbr)), write_back.s())
    with trace():
        return str(steps.apply_async().id)


@app.task(name="tasks.shipments.fetch", flow="shipments", record_arg="record_id")
def fetch(record_id: str) -> dict[str, Any]:
    return shipments.fetch(record_id)


@app.task(name="tasks.shipments.write_back", flow="shipments", record_arg=0)
def write_back(state: dict[str, Any]) -> dict[str, Any]:
    return shipments.write_back(state)


@app.task(name="tasks.shipments.poll", flow="shipments", record_arg="ids")
def poll(
    since: str | None = None,
    ids: list[str] | None = None,
    all: bool = False,
    dry_run: bool = False,
) -> dict[str, Any]:
    """Start one chain per confirmed shipment changed since the cursor (or the given ones)."""
    if dry_run:
        return {"plan": [c.as_dict() for c in shipments.plan(since, ids, all)]}
    if ids:
        numbers = [str(i) for i in ids]
        for number in numbers:
            start(number)
        return {"started": numbers}
    numbers = []
    # Started as they are read: the cursor moves past the last one only once it is started.
    for row in shipments.changed_shipments(since, all=all):
        numbers.append(str(row["ShipmentNbr"]))
        start(numbers[-1])
    return {"started": numbers}


@app.task(name="tasks.shipments.realtime_on_push", flow="shipments", record_arg="notification")
def realtime_on_push(notification: dict[str, Any]) -> dict[str, Any]:
    """An Acumatica push notification (query ``Shipments``) as the webhook receiver got it."""
    numbers = shipments.shipments_in_push(notification)
    for number in numbers:
        start(number)
    return {"started": numbers, "id": notification.get("Id")}
