"""The harness's own view of the sandboxes: control surface, shoppers, and read-backs.

Read-backs go straight to the emulated APIs (not through the engine), so the figures and the
invariants come from the systems' own data.
"""

from __future__ import annotations

import random
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
            answer = self.http.get(
                f"{self.base_url}{ENDPOINT}/{entity}",
                params={"$select": select, "$top": page, "$skip": skip},
                timeout=300,
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
