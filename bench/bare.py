"""The baseline: the pipeline's HTTP calls for a batch of orders, made directly.

No Celery, no ledger, no Redis, no locks: list the orders changed since a moment (same paging as
the engine), then per order read its payment transactions and PUT the sales order with its
payments (one call, as the engine does with ``with_order``; else a PUT Payment each after it),
with the engine's own pure mapping building the bodies. Run sequentially and on a
thread pool of the pipeline's concurrency. What the pipeline adds on top of this is its cost.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

import requests

ENTITY = "/entity/Default/24.200.001"
ORDER_SELECT = "OrderType,OrderNbr,Status,CustomerOrder,OrderTotal,TaxTotal"
PAYMENT_SELECT = "Type,ReferenceNbr,Status,PaymentRef,PaymentAmount"
PAGE = 100


class Bare:
    def __init__(self, xcart_url: str, acumatica_url: str, customers: dict[str, str]) -> None:
        from sync_workers.mapping.templates import load_template

        self.xcart_url = xcart_url
        self.acumatica_url = acumatica_url
        self.customers = customers  # "profile:<id>" -> Acumatica CustomerID (known buyers)
        self.orders_tmpl = load_template("orders")
        self.payments_tmpl = load_template("payments")
        self._local = threading.local()
        self._cookies: Any = None
        self._login()

    def _login(self) -> None:
        http = requests.Session()
        answer = http.post(
            f"{self.acumatica_url}/entity/auth/login",
            json={"name": "admin", "password": "sandbox", "tenant": "Company"},
            timeout=30,
        )
        answer.raise_for_status()
        self._cookies = http.cookies

    def close(self) -> None:
        requests.post(f"{self.acumatica_url}/entity/auth/logout", cookies=self._cookies, timeout=30)

    def _http(self) -> requests.Session:
        http = getattr(self._local, "http", None)
        if http is None:
            http = requests.Session()
            http.headers["X-Auth-Token"] = "sandbox-rw"
            http.cookies.update(self._cookies)
            self._local.http = http
        return http

    def changed_orders(self, since: datetime) -> list[dict[str, Any]]:
        from sync_workers.dates import to_utc_iso

        found, page = [], 1
        while True:
            answer = self._http().get(
                f"{self.xcart_url}/api/orders",
                params={
                    "lastRenewDate[after]": to_utc_iso(since),
                    "order[lastRenewDate]": "asc",
                    "page": page,
                    "itemsPerPage": PAGE,
                },
                timeout=60,
            )
            answer.raise_for_status()
            rows = answer.json()
            found.extend(rows)
            if len(rows) < PAGE:
                return found
            page += 1

    def sync_one(self, order: dict[str, Any]) -> None:
        from sync_workers.connectors.acumatica.wrapping import wrap
        from sync_workers.mapping import orders as order_map
        from sync_workers.mapping import payments as payment_map

        http = self._http()
        answer = http.get(
            f"{self.xcart_url}/api/orders/{order['id']}/payment_transactions", timeout=60
        )
        answer.raise_for_status()
        transactions = answer.json()
        customer_id = self.customers[f"profile:{int(order['customer_id'])}"]
        sales_order = order_map.to_sales_order(order, self.orders_tmpl, customer_id=customer_id)
        code = (order.get("payment_status") or {}).get("code")
        paid = [
            (txn, action)
            for txn in transactions
            if (action := payment_map.action(txn, code, self.payments_tmpl)) in ("record", "hold")
        ]
        params = {"$select": ORDER_SELECT}
        if paid and payment_map.with_order(self.payments_tmpl):
            left = order_map.money(order.get("total"))
            rows = []
            for txn, action in paid:
                applied = max(min(order_map.money(txn.get("value")), left), order_map.money(0))
                left -= applied
                rows.append(
                    payment_map.to_order_payment(
                        txn,
                        self.payments_tmpl,
                        applied=applied,
                        on_hold=action == "hold",
                        order_number=order.get("order_number"),
                    )
                )
            sales_order["Payments"] = rows
            params["$expand"] = "Payments"
            paid = []
        answer = http.put(
            f"{self.acumatica_url}{ENTITY}/SalesOrder",
            params=params,
            json=wrap(sales_order),
            timeout=60,
        )
        answer.raise_for_status()
        created = answer.json()
        order_type, order_nbr = created["OrderType"]["value"], created["OrderNbr"]["value"]
        for txn, action in paid:
            payment = payment_map.to_payment(
                txn,
                self.payments_tmpl,
                customer_id=customer_id,
                order_type=order_type,
                order_nbr=order_nbr,
                on_hold=action == "hold",
                order_number=order.get("order_number"),
            )
            answer = http.put(
                f"{self.acumatica_url}{ENTITY}/Payment",
                params={"$select": PAYMENT_SELECT},
                json=wrap(payment),
                timeout=60,
            )
            answer.raise_for_status()

    def run(self, since: datetime, threads: int) -> tuple[int, float]:
        """Sync every order changed since ``since``; returns (orders, seconds)."""
        started = time.monotonic()
        orders = self.changed_orders(since)
        if threads <= 1:
            for order in orders:
                self.sync_one(order)
        else:
            with ThreadPoolExecutor(threads) as pool:
                list(pool.map(self.sync_one, orders))
        return len(orders), time.monotonic() - started
