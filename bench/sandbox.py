"""The harness's own view of the sandboxes: control surface, shoppers, and read-backs.

Read-backs go straight to the emulated APIs (not through the engine), so the figures and the
invariants come from the systems' own data.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Iterator
from typing import Any

import requests

ENDPOINT = "/entity/Default/24.200.001"
STATES = ("NY", "CA", "TX", "OR", "MA")
ADDRESSES = {
    "NY": ("1 Main St", "New York", "10001"),
    "CA": ("5 Market St", "San Francisco", "94105"),
    "TX": ("9 Congress Ave", "Austin", "73301"),
    "OR": ("2 Pearl St", "Portland", "97201"),
    "MA": ("7 Beacon St", "Boston", "02108"),
    "NJ": ("3 Broad St", "Newark", "07102"),
    "FL": ("8 Ocean Dr", "Miami", "33139"),
}
FIRST = ("Zoë", "Siobhán", "José", "Renée", "Jean-Luc", "Ana", "Mary", "Björn", "Chloé", "Ola")
LAST = ("Łukasiewicz", "O'Brien", "Núñez", "D'Arcy", "Côté", "Smith", "O'Neil", "Ångström")


class Control:
    """``/_sandbox/...`` of one sandbox."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = requests.Session()

    def get(self, path: str) -> Any:
        answer = self.http.get(f"{self.base_url}/_sandbox/{path}", timeout=60)
        answer.raise_for_status()
        return answer.json()

    def post(self, path: str, body: Any) -> Any:
        answer = self.http.post(f"{self.base_url}/_sandbox/{path}", json=body, timeout=60)
        if answer.status_code >= 400:
            raise RuntimeError(f"POST /_sandbox/{path}: {answer.status_code} {answer.text[:300]}")
        return answer.json() if answer.content else None

    def faults(self, config: dict[str, Any]) -> None:
        self.post("faults", config)

    def stats(self) -> dict[str, Any]:
        return self.get("stats")

    def reset_stats(self) -> None:
        self.post("stats/reset", {})


def shopper(rng: random.Random, n: int, *, emails: int, skus: list[str]) -> dict[str, Any]:
    """Checkout body n: a returning buyer (one of ``emails``), 1-3 lines, card or PayPal."""
    buyer = n % emails
    state = STATES[buyer % len(STATES)]
    street, city, zipcode = ADDRESSES[state]
    body: dict[str, Any] = {
        "email": f"buyer{buyer:05d}@example.com",
        "items": [{"sku": s, "amount": rng.randint(1, 2)} for s in rng.sample(skus, rng.randint(1, 3))],
        "billing_address": {
            "firstname": FIRST[buyer % len(FIRST)],
            "lastname": LAST[buyer % len(LAST)],
            "street": street,
            "city": city,
            "zipcode": zipcode,
            "country_code": "US",
            "state_code": state,
            "phone": f"555{buyer:07d}",
        },
        "payment_method": "Credit Card" if n % 3 else "PayPal",
        "shipping_cost": 7.5,
        "shipping_method": "Courier",
    }  # fmt: skip
    return body


def stocked_skus() -> list[str]:
    """Plain catalogue SKUs that both sandboxes know (stock raised by ``XCart.raise_stock``)."""
    from sandboxes.common.catalog import seed_catalog

    return [
        i.sku
        for i in seed_catalog()
        if sum(i.qty_by_warehouse.values()) > 0 and i.price > 0 and i.sku.startswith("AA-0")
    ]


class Acumatica:
    """A signed-in REST client of the Acumatica sandbox (one seat; sign out when done)."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = requests.Session()
        answer = self.http.post(
            f"{self.base_url}/entity/auth/login",
            json={"name": "admin", "password": "sandbox", "tenant": "Company"},
            timeout=60,
        )
        answer.raise_for_status()

    def close(self) -> None:
        self.http.post(f"{self.base_url}/entity/auth/logout", timeout=30)

    def __enter__(self) -> Acumatica:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def raise_stock(self, skus: list[str], qty: float = 10_000_000) -> None:
        """Enough ERP stock that inventory pushes never starve the store of stock to sell."""
        base = f"{self.base_url}{ENDPOINT}"
        lines = [
            {"InventoryID": {"value": s}, "WarehouseID": {"value": w}, "Qty": {"value": qty}}
            for s in skus
            for w in ("WHOLESALE", "RETAIL")
        ]
        doc = self.http.put(
            f"{base}/InventoryAdjustment",
            json={"Hold": {"value": False}, "Details": lines},
            timeout=300,
        )
        doc.raise_for_status()
        self.http.post(
            f"{base}/InventoryAdjustment/ReleaseAdjustment",
            json={"entity": {"ReferenceNbr": doc.json()["ReferenceNbr"]}},
            timeout=300,
        ).raise_for_status()

    def list(self, entity: str, select: str, page: int = 1000) -> Iterator[dict[str, Any]]:
        skip = 0
        while True:
            params: dict[str, str | int] = {"$select": select, "$top": page, "$skip": skip}
            answer = self.http.get(
                f"{self.base_url}{ENDPOINT}/{entity}", params=params, timeout=300
            )
            answer.raise_for_status()
            rows = answer.json()
            for row in rows:
                yield {k: (v.get("value") if isinstance(v, dict) else v) for k, v in row.items()}
            if len(rows) < page:
                return
            skip += page


class XCart:
    """The X-Cart sandbox's REST API with the read/write token."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = requests.Session()
        self.http.headers["X-Auth-Token"] = "sandbox-rw"

    def raise_stock(self, skus: list[str], amount: int = 10_000_000) -> int:
        """Give these SKUs enough store stock for any run (checkout refuses overselling)."""
        wanted, done, page = set(skus), 0, 1
        while True:
            answer = self.http.get(
                f"{self.base_url}/api/products",
                params={"page": page, "itemsPerPage": 100},
                timeout=60,
            )
            answer.raise_for_status()
            rows = answer.json()
            for row in rows:
                if row.get("sku") in wanted:
                    put = self.http.put(
                        f"{self.base_url}/api/products/{row['id']}",
                        json={"amount": amount},
                        timeout=60,
                    )
                    put.raise_for_status()
                    done += 1
            if len(rows) < 100:
                return done
            page += 1

    def orders(self, page_size: int = 100) -> Iterator[dict[str, Any]]:
        page = 1
        while True:
            answer = self.http.get(
                f"{self.base_url}/api/orders",
                params={"page": page, "itemsPerPage": page_size},
                timeout=300,
            )
            answer.raise_for_status()
            rows = answer.json()
            if isinstance(rows, dict):
                rows = rows.get("hydra:member") or rows.get("items") or []
            yield from rows
            if len(rows) < page_size:
                return
            page += 1


# -- Per-request speed of the sandboxes ------------------------------------------------------

#: The mean per-request time of an Acumatica sales-order PUT (three lines) the engine's figures
#: assume of the sandbox: every bench figure is against it, so a slower sandbox shows first here.
SALES_ORDER_PUT_TARGET_MS = 50.0


def _timed(samples: list[float], http: requests.Session, method: str, url: str, **kw: Any) -> Any:
    """The JSON answer of one request; its time in milliseconds goes to ``samples``."""
    started = time.perf_counter()
    answer = http.request(method, url, timeout=60, **kw)
    samples.append((time.perf_counter() - started) * 1000)
    if answer.status_code >= 300:
        raise RuntimeError(f"{method} {url}: {answer.status_code} {answer.text[:200]}")
    return answer.json() if answer.content else None


def _figures(samples: list[float]) -> dict[str, Any]:
    ordered = sorted(samples)
    return {
        "n": len(ordered),
        "mean_ms": round(statistics.fmean(ordered), 2),
        "p50_ms": round(ordered[len(ordered) // 2], 2),
        "p95_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))], 2),
        "max_ms": round(ordered[-1], 2),
    }


def speed(requests_each: int = 200, warm_up: int = 10) -> dict[str, Any]:
    """Per-request times of both sandboxes, one request at a time over a kept-alive connection,
    on a private pair seeded with the shared catalogue (``warm_up`` requests of each kind are
    not counted): X-Cart checkout, order GET and product stock PUT; Acumatica sales-order PUT
    (three lines), sales-order GET and inventory-adjustment PUT (one line)."""
    from bench.stack import Stack

    rng = random.Random(7)
    with Stack(name="sandbox-speed", database="sqlite") as stack:
        stack.start_sandboxes()
        skus = stocked_skus()
        store, erp = XCart(stack.env["XCART_BASE_URL"]), Acumatica(stack.env["ACUMATICA_BASE_URL"])
        store.raise_stock(skus)
        products = [
            p["id"]
            for p in store.http.get(
                f"{store.base_url}/api/products", params={"itemsPerPage": 50}, timeout=60
            ).json()
        ]
        base = f"{erp.base_url}{ENDPOINT}"
        times: dict[str, list[float]] = {k: [] for k in (
            "xcart_checkout", "xcart_order_get", "xcart_stock_put",
            "acumatica_sales_order_put", "acumatica_sales_order_get", "acumatica_stock_put",
        )}  # fmt: skip
        try:
            for n in range(warm_up + requests_each):
                took = times if n >= warm_up else {k: [] for k in times}
                body = shopper(rng, n, emails=20, skus=skus)
                order = _timed(took["xcart_checkout"], store.http, "POST",
                               f"{store.base_url}/_sandbox/checkout", json=body)  # fmt: skip
                _timed(took["xcart_order_get"], store.http, "GET",
                       f"{store.base_url}/api/orders/{order['id']}")  # fmt: skip
                _timed(took["xcart_stock_put"], store.http, "PUT",
                       f"{store.base_url}/api/products/{products[n % len(products)]}",
                       json={"amount": 1_000_000 + n})  # fmt: skip
                lines = [{"InventoryID": {"value": sku}, "OrderQty": {"value": qty}}
                         for sku, qty in zip(skus[:3], (1, 2, 3), strict=True)]  # fmt: skip
                so = _timed(took["acumatica_sales_order_put"], erp.http, "PUT", f"{base}/SalesOrder",
                            json={"CustomerID": {"value": "XCGUEST"},
                                  "CustomerOrder": {"value": f"SPEED-{n}"}, "Details": lines})  # fmt: skip
                _timed(took["acumatica_sales_order_get"], erp.http, "GET",
                       f"{base}/SalesOrder/{so['OrderType']['value']}/{so['OrderNbr']['value']}")  # fmt: skip
                adjustment = {"InventoryID": {"value": skus[n % len(skus)]},
                              "WarehouseID": {"value": "RETAIL"}, "Qty": {"value": 1}}  # fmt: skip
                _timed(took["acumatica_stock_put"], erp.http, "PUT", f"{base}/InventoryAdjustment",
                       json={"Hold": {"value": True}, "Details": [adjustment]})  # fmt: skip
        finally:
            erp.close()
    figures = {kind: _figures(samples) for kind, samples in times.items()}
    return {
        "requests_each": requests_each,
        "per_request": figures,
        "sales_order_put_target_ms": SALES_ORDER_PUT_TARGET_MS,
        "sales_order_put_met": figures["acumatica_sales_order_put"]["mean_ms"]
        <= SALES_ORDER_PUT_TARGET_MS,
    }


SPEED_LABELS = {
    "xcart_checkout": "X-Cart checkout",
    "xcart_order_get": "X-Cart order GET",
    "xcart_stock_put": "X-Cart product stock PUT",
    "acumatica_sales_order_put": "Acumatica sales order PUT (3 lines)",
    "acumatica_sales_order_get": "Acumatica sales order GET",
    "acumatica_stock_put": "Acumatica inventory adjustment PUT",
}


def speed_rows(result: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """The rows of ``python -m bench``'s table for ``speed``'s result."""
    out = []
    for kind, label in SPEED_LABELS.items():
        f = result["per_request"][kind]
        target, verdict = "-", "-"
        if kind == "acumatica_sales_order_put":
            target = f"mean <= {result['sales_order_put_target_ms']:g}"
            verdict = "met" if result["sales_order_put_met"] else "MISSED"
        out.append((
            f"sandbox speed: {label}, mean/p50/p95 ms",
            f"{f['mean_ms']}/{f['p50_ms']}/{f['p95_ms']} (max {f['max_ms']}) over {f['n']}",
            target, verdict,
        ))  # fmt: skip
    return out
