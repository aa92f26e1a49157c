"""Read a ``Snapshot`` from the systems themselves: the sandboxes' APIs, the ledger, the DLQ."""

from __future__ import annotations

import json
import re
from typing import Any

import redis

from bench.measure import Ledger
from bench.sandbox import ENDPOINT, Acumatica, XCart
from chaos.invariants import MadeCustomer, Snapshot


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


#: A store write on one profile or its addresses, as the sandbox's request counters name it.
PROFILE_WRITE = re.compile(r"^(POST|PUT|PATCH|DELETE) /api/profiles/(\d+)(/|$)")


def profile_writes(by_path: dict[str, int]) -> dict[str, int]:
    """Write requests per profile id from the X-Cart sandbox's ``requests.by_path``."""
    found: dict[str, int] = {}
    for path, count in by_path.items():
        match = PROFILE_WRITE.match(path)
        if match:
            found[match.group(2)] = found.get(match.group(2), 0) + count
    return found


def engine_customer_writes(xcart_by_path: dict[str, int], erp_by_path: dict[str, int]) -> dict:
    """Profile writes and ``PUT Customer`` calls in two sandboxes' ``requests.by_path``."""
    customers = sum(
        n
        for path, n in erp_by_path.items()
        if path.startswith("PUT ") and path.endswith("/Customer")
    )
    profiles = sum(profile_writes(xcart_by_path).values()) + xcart_by_path.get(
        "POST /api/profiles", 0
    )
    return {"xcart_profile_writes": profiles, "acumatica_customer_puts": customers}


def store_logins(xcart_url: str) -> dict[str, str]:
    """Customer profiles of the store (no staff): login -> profile id."""
    store = XCart(xcart_url)
    found: dict[str, str] = {}
    page = 1
    while True:
        answer = store.http.get(
            f"{store.base_url}/api/profiles", params={"page": page, "itemsPerPage": 100}, timeout=60
        )
        answer.raise_for_status()
        rows = answer.json()
        for row in rows:
            if row.get("access_level", 0) == 0 and row.get("login"):
                found[str(row["login"])] = str(row["id"])
        if len(rows) < 100:
            return found
        page += 1


def customer_facts(
    *,
    xcart_url: str,
    acumatica_url: str,
    ledger: Ledger,
    made: dict[str, MadeCustomer],
    xcart_by_path: dict[str, int],
) -> dict[str, Any]:
    """The ``Snapshot`` fields of the customers the harness made in Acumatica (the store's
    request counters, ``xcart_by_path``, give the writes per profile)."""
    links: dict[str, set[str]] = {}
    rows = ledger._query(
        "select source_id, target_key, direction from sync_records where flow = ?", "customers"
    )
    for source, key, direction in rows:
        if not key:
            continue
        customer_id, profile = (key, source) if direction == "xcart_to_acumatica" else (source, key)
        if str(customer_id) in made:
            links.setdefault(str(customer_id), set()).add(str(profile).removeprefix("profile:"))
    store = XCart(xcart_url)
    emails = {c.email.casefold() for c in made.values()}
    profiles: dict[str, tuple[str, str, str]] = {}
    for login, profile_id in store_logins(xcart_url).items():
        if login.casefold() not in emails:
            continue
        answer = store.http.get(f"{store.base_url}/api/profiles/{profile_id}/addresses", timeout=60)
        answer.raise_for_status()
        addresses = answer.json()
        billing = next((a for a in addresses if a.get("is_billing")), None) or (
            addresses[0] if addresses else {}
        )
        profiles[profile_id] = (
            login, str(billing.get("firstname") or ""), str(billing.get("lastname") or "")
        )  # fmt: skip
    with Acumatica(acumatica_url) as erp:
        customers = _rows(erp, "Customer", {"$select": "CustomerID,LastModifiedDateTime"})
    modified = {
        str(_value(c["CustomerID"])): str(_value(c.get("LastModifiedDateTime")))
        for c in customers
        if str(_value(c["CustomerID"])) in made
    }
    return {
        "made_customers": made,
        "customer_links": links,
        "profiles": profiles,
        "erp_modified": modified,
        "profile_writes": profile_writes(xcart_by_path),
    }


def customer_modified(erp: Acumatica, ids: set[str]) -> dict[str, str]:
    """``LastModifiedDateTime`` of the customers ``ids``: CustomerID -> value."""
    found = {}
    for row in _rows(erp, "Customer", {"$select": "CustomerID,LastModifiedDateTime"}):
        customer_id = str(_value(row["CustomerID"]))
        if customer_id in ids:
            found[customer_id] = str(_value(row.get("LastModifiedDateTime")))
    return found
