"""``make demo``: the bounded ``make run``. Starts everything as ``make run`` does (push
notifications from the Acumatica sandbox included), places a handful of sample orders in the
X-Cart sandbox, waits until each is a sales order (with its payment) in the Acumatica sandbox,
prints a summary, stops everything and exits 0 only when every order synced.

It refuses to run against a real store or ERP: the orders it places are made up.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from typing import Any

import requests

from sync_workers import devrun
from sync_workers.settings import Settings, settings_or_exit

SAMPLE_ORDERS: list[dict[str, Any]] = [
    {
        "email": "zoe.ohara@example.com",
        "items": [{"sku": "AA-0001", "amount": 2}, {"sku": "AA-0002", "amount": 1}],
        "billing_address": {
            "firstname": "Zoë",
            "lastname": "O'Hara",
            "state_code": "NY",
            "street": "1 Main St",
            "city": "New York",
            "zipcode": "10001",
        },
    },
    {
        "email": "li.wei@example.com",
        "items": [{"sku": "AA-0003", "amount": 1}],
        "billing_address": {
            "firstname": "Li",
            "lastname": "Wei",
            "state_code": "CA",
            "street": "5 Market St",
            "city": "San Francisco",
            "zipcode": "94105",
        },
    },
    {
        "email": "ana.nunez@example.com",
        "items": [{"sku": "AA-0004", "amount": 3}],
        "billing_address": {
            "firstname": "Ana",
            "lastname": "Núñez",
            "state_code": "OR",
            "street": "2 Pearl St",
            "city": "Portland",
            "zipcode": "97201",
        },
    },
    {
        "email": "sam.baker@example.com",
        "items": [{"sku": "AA-0005", "amount": 1}, {"sku": "AA-0001", "amount": 1}],
        "billing_address": {
            "firstname": "Sam",
            "lastname": "Baker",
            "state_code": "TX",
            "street": "9 Congress Ave",
            "city": "Austin",
            "zipcode": "73301",
        },
    },
    {
        "email": "ines.durand@example.com",
        "items": [{"sku": "AA-0002", "amount": 2}],
        "billing_address": {
            "firstname": "Inès",
            "lastname": "Durand",
            "state_code": "MA",
            "street": "7 Beacon St",
            "city": "Boston",
            "zipcode": "02108",
        },
    },
]


@dataclass
class Placed:
    xcart_id: str
    number: str
    total: Any
    sales_order: str | None = None
    payment: str | None = None
    problem: str | None = None


def place_orders(xcart_url: str, count: int) -> list[Placed]:
    placed = []
    for n in range(count):
        sample = SAMPLE_ORDERS[n % len(SAMPLE_ORDERS)]
        address = {
            "country_code": "US",
            "phone": f"555-010-{1000 + n}",
            **sample["billing_address"],
        }
        body = {**sample, "billing_address": address, "payment_method": "Credit Card"}
        answer = requests.post(f"{xcart_url}/_sandbox/checkout", json=body, timeout=30)
        answer.raise_for_status()
        order = answer.json()
        placed.append(Placed(str(order["id"]), str(order.get("order_number")), order.get("total")))
    return placed


def refresh(orders: list[Placed]) -> None:
    """Fill in sales orders, payments and dead-letter reasons from the ledger and the DLQ."""
    from sync_workers.ledger import SyncRecord, session_scope
    from sync_workers.task import get_dlq

    with session_scope() as session:
        rows = session.query(SyncRecord).filter(SyncRecord.flow.in_(("orders", "payments"))).all()
        sales_orders = {r.source_id: r.target_key for r in rows if r.flow == "orders"}
        payments = {
            str((r.data or {}).get("order_id")): r.target_key
            for r in rows
            if r.flow == "payments" and r.target_key
        }
    dead = {e.record_id: e for e in get_dlq().iter_entries(status="open", flow="orders")}
    for order in orders:
        order.sales_order = sales_orders.get(order.xcart_id)
        order.payment = payments.get(order.xcart_id)
        entry = dead.get(order.xcart_id)
        order.problem = f"{entry.error_class}: {entry.error_message}" if entry else None


def wait_for_sync(orders: list[Placed], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    shown = -1
    while time.monotonic() < deadline:
        refresh(orders)
        done = sum(1 for o in orders if o.sales_order)
        if done != shown:
            print(f"demo: {done}/{len(orders)} orders synced", flush=True)
            shown = done
        if done == len(orders) or any(o.problem for o in orders):
            break
        time.sleep(1)
    # The payments follow their orders; give them a moment so the summary is complete.
    grace = min(deadline, time.monotonic() + 15)
    while time.monotonic() < grace and not all(o.payment for o in orders if o.sales_order):
        time.sleep(1)
        refresh(orders)
    return all(o.sales_order for o in orders)


def wait_for_worker(timeout: float = 60) -> bool:
    from sync_workers.celery import app

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if app.control.ping(timeout=1.0):
            return True
    return False


def summary(orders: list[Placed]) -> None:
    print("\nX-CART ORDER   TOTAL      ACUMATICA SALES ORDER   PAYMENT          RESULT")
    for o in orders:
        result = "synced" if o.sales_order else (o.problem or "not synced")
        print(
            f"{o.number:<14} {o.total!s:<10} {o.sales_order or '-':<23} "
            f"{o.payment or '-':<16} {result}"
        )


def check_sandboxes(settings: Settings, *, at_configured_urls: bool = False) -> str | None:
    if at_configured_urls:  # both sandboxes run at those URLs (devrun.sandbox_ports checks them)
        return None
    if not (settings.sandbox_xcart and settings.sandbox_acumatica):
        return (
            "the demo places made-up orders, so it runs only against the sandboxes: "
            "unset XCART_BASE_URL and ACUMATICA_BASE_URL (see .env)"
        )
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sync_workers.demo", description=__doc__)
    parser.add_argument("--orders", type=int, default=5, help="sample orders to place")
    parser.add_argument("--timeout", type=float, default=180, help="seconds to wait for sync")
    parser.add_argument(
        "--sandbox-urls",
        action="store_true",
        help="run both sandboxes at XCART_BASE_URL and ACUMATICA_BASE_URL (http://127.0.0.1:<port>)",
    )
    args = parser.parse_args(argv)
    if not 1 <= args.orders <= 50 or args.timeout <= 0:
        parser.error("--orders must be 1 to 50 and --timeout positive")
    settings = settings_or_exit()
    refusal = check_sandboxes(settings, at_configured_urls=args.sandbox_urls)
    if refusal:
        print(f"demo: {refusal}", file=sys.stderr)
        return 2
    from sync_workers.ledger import migrate

    migrate.upgrade(settings.database_url.reveal())
    try:
        run = devrun.plan(settings, at_configured_urls=args.sandbox_urls)
    except ValueError as exc:
        print(f"demo: {exc}", file=sys.stderr)
        return 2
    try:
        refusal = devrun.start(run)
        if refusal:
            print(f"demo: {refusal}", file=sys.stderr)
            return 1
        for service in run.services:
            print(f"demo: {service.name:<10} {service.where}", flush=True)
        print(f"demo: {'push':<10} {devrun.push_line(run)}", flush=True)
        if not wait_for_worker():
            print("demo: the worker did not start", file=sys.stderr)
            return 1
        orders = place_orders(settings.xcart_base_url, args.orders)
        print(
            f"demo: placed {len(orders)} orders in the X-Cart sandbox: "
            f"{', '.join(o.number for o in orders)}",
            flush=True,
        )
        from sync_workers.celery import publish

        publish(
            "tasks.orders.poll",
            [],
            {"ids": [o.xcart_id for o in orders]},
            queue=None,
            chain=[],
            trace_id=None,
            headers={},
        )
        ok = wait_for_sync(orders, args.timeout)
        summary(orders)
        if ok:
            print(f"\ndemo: all {len(orders)} orders synced")
            return 0
        print(
            "\ndemo: not every order synced; see `celery -A sync_workers dlq list`", file=sys.stderr
        )
        return 1
    finally:
        devrun.stop(run)


if __name__ == "__main__":
    raise SystemExit(main())
