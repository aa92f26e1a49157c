"""Read a ``Snapshot`` from the systems themselves: the sandboxes' APIs, the ledger, the DLQ."""

from __future__ import annotations

import json
from typing import Any

import redis

from bench.measure import Ledger
from bench.sandbox import ENDPOINT, Acumatica, XCart
from chaos.invariants import Snapshot


def _value(field: Any) -> Any:
    return field.get("value") if isinstance(field, dict) else field


def _rows(erp: Acumatica, entity: str, params: dict[str, str], page: int = 500) -> list[dict]:
    found: list[dict] = []
    skip = 0
    while True:
        answer = erp.http.get(
            f"{erp.base_url}{ENDPOINT}/{entity}",
            params={**params, "$top": str(page), "$skip": str(skip)},
            timeout=600,
        )
        answer.raise_for_status()
        rows = answer.json()
        found.extend(rows)
        if len(rows) < page:
            return found
        skip += page


def dead_letters(redis_url: str, prefix: str) -> list[tuple[str, str, str]]:
    """Open entries of the dead-letter queue, read with the engine's own reader."""
    from sync_workers.dlq import DeadLetterQueue

    client = redis.Redis.from_url(redis_url, decode_responses=True)
    queue = DeadLetterQueue(client, prefix)
    out = []
    for entry in queue.iter_entries(status="open"):
        message = entry.error_message + " " + json.dumps(getattr(entry, "field_errors", {}) or {})
        out.append((entry.flow, str(entry.record_id), message))
    return out


def snapshot(
    *,
    xcart_url: str,
    acumatica_url: str,
    ledger: Ledger,
    redis_url: str,
    prefix: str,
    valid_orders: dict[str, str],
    bad_orders: dict[str, tuple[str, str]],
    shipped_order_ids: set[str],
    refunded_order_ids: set[str] | None = None,
) -> Snapshot:
    with Acumatica(acumatica_url) as erp:
        sales = _rows(erp, "SalesOrder", {"$select": "OrderType,OrderNbr,CustomerOrder"})
        pays = _rows(
            erp,
            "Payment",
            {
                "$select": "Type,ReferenceNbr,Status,PaymentRef,PaymentAmount,OrdersToApply",
                "$expand": "OrdersToApply",
            },
        )
        ships = _rows(
            erp,
            "Shipment",
            {"$select": "ShipmentNbr,Status,Details,Packages", "$expand": "Details,Packages"},
        )
    sales_orders = [
        (
            str(_value(r["OrderType"])),
            str(_value(r["OrderNbr"])),
            str(_value(r.get("CustomerOrder"))),
        )
        for r in sales
    ]
    payments = [
        (
            str(_value(p["Type"])),
            str(_value(p["ReferenceNbr"])),
            str(_value(p.get("Status"))),
            [
                (str(_value(a.get("OrderType"))), str(_value(a.get("OrderNbr"))))
                for a in p.get("OrdersToApply") or []
            ],
        )
        for p in pays
    ]
    number_of = {f"{t}/{n}": c for t, n, c in sales_orders}
    id_of = {**valid_orders, **{n: v[0] for n, v in bad_orders.items()}}
    shipments: dict[str, tuple[str, list[str]]] = {}
    for s in ships:
        if str(_value(s.get("Status"))) != "Confirmed":
            continue
        details = s.get("Details") or []
        if not details:
            continue
        key = f"{_value(details[0].get('OrderType'))}/{_value(details[0].get('OrderNbr'))}"
        order_id = id_of.get(number_of.get(key, ""), "?")
        tracking = [str(_value(p.get("TrackingNbr"))) for p in s.get("Packages") or []]
        shipments[str(_value(s["ShipmentNbr"]))] = (order_id, [t for t in tracking if t])
    store = XCart(xcart_url)
    store_orders = {}
    for order in store.orders():
        if str(order["id"]) in shipped_order_ids:
            store_orders[str(order["id"])] = (
                str((order.get("shipping_status") or {}).get("code")),
                [str(t.get("value")) for t in order.get("tracking_numbers") or []],
            )
    ledger_orders = {
        str(source): str(key) for source, key, _status, _at in ledger.rows("orders") if key
    }
    store_refunds = {}
    for order_id in sorted(refunded_order_ids or ()):
        answer = store.http.get(
            f"{store.base_url}/api/orders/{order_id}/payment_transactions", timeout=300
        )
        answer.raise_for_status()
        for txn in answer.json():
            for backend in txn.get("backend_transactions") or []:
                if str(backend.get("type", "")).startswith("refund"):
                    store_refunds[str(backend["id"])] = (order_id, float(backend["value"]))
    erp_refunds = [
        (str(_value(p.get("PaymentRef"))), str(_value(p.get("Status"))),
         float(_value(p.get("PaymentAmount")) or 0))
        for p in pays
        if _value(p["Type"]) == "Refund"
    ]  # fmt: skip
    return Snapshot(
        valid_orders=valid_orders,
        bad_orders=bad_orders,
        sales_orders=sales_orders,
        payments=payments,
        shipments=shipments,
        store_orders=store_orders,
        ledger_orders=ledger_orders,
        dead_letters=dead_letters(redis_url, prefix),
        store_refunds=store_refunds,
        erp_refunds=erp_refunds,
        refund_ref_prefix=_refund_ref_prefix(),
    )


def _refund_ref_prefix() -> str:
    from sync_workers.mapping.templates import load_template

    return str((load_template("payments").get("refunds") or {}).get("ref_prefix") or "XC-R")
