"""Product tasks (StockItem <-> X-Cart product): catalogue poll, webhooks, one sync per SKU."""

from __future__ import annotations

from typing import Any

from sync_workers.celery import app
from sync_workers.connectors.dates import parse_datetime
from sync_workers.flows import products


@app.task(name="tasks.products.sync_product", flow="products", record_arg="sku")
def sync_product(sku: str) -> dict[str, Any]:
    """Make one SKU agree on both sides (each field group's owner wins)."""
    return products.sync_product(sku)


@app.task(name="tasks.products.poll", flow="products", record_arg="ids")
def poll(
    since: str | None = None,
    ids: list[str] | None = None,
    all: bool = False,
    dry_run: bool = False,
) -> dict[str, Any]:
    """Scan the X-Cart catalogue and read changed stock items; one sync per changed SKU."""
    moment = parse_datetime(since) if since else None
    if dry_run:
        return {"plan": [c.as_dict() for c in products.plan(moment, ids, all)]}
    changed = products.changed_skus(moment, ids, all, start=lambda sku: sync_product.delay(sku=sku))
    return {"changed": changed}


@app.task(name="tasks.products.realtime_on_webhook", flow="products", record_arg="event")
def realtime_on_webhook(event: str, data: dict[str, Any]) -> dict[str, Any]:
    """A signed ``product.*`` webhook from the store module; our own writes are recognised."""
    sku = products.on_store_event(data) if event.startswith("product.") else None
    if sku is not None:
        sync_product.delay(sku=sku)
    return {"event": event, "sku": sku}


@app.task(name="tasks.products.realtime_on_push", flow="products", record_arg="notification")
def realtime_on_push(notification: dict[str, Any]) -> dict[str, Any]:
    """An Acumatica push notification of stock-item rows (the ``StockItems`` inquiry)."""
    skus = products.skus_in_push(notification)
    for sku in skus:
        sync_product.delay(sku=sku)
    return {"skus": skus}
