"""What the harness does to the systems during a chaos run: orders, refunds, shipments,
faults."""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import requests

from bench.engine import Driver
from bench.sandbox import ENDPOINT, Acumatica, XCart, shopper

#: Bad orders and the field the engine must name in the dead-letter entry.
BAD_KINDS = (
    ("state", {"state_code": "NJ", "city": "Newark", "zipcode": "07102", "street": "3 Broad St"},
     "shipping_address.state"),
    ("sku", {"sku": "WEB-GIFT-25"}, "items[0]"),
)  # fmt: skip

API = "^/(api|entity/Default)/"
HARNESS_PATHS = "(?!.*(Shipment|InventoryAdjustment))"


def fault_config(seed: int, timeout_seconds: float) -> dict[str, Any]:
    """5 % 5xx, 2 % 429, 1 % timeouts on every emulated-API call of the engine.

    Writes lose their answer after committing (the hard case). Sign-in and the harness's own
    writes (shipments, stock adjustments) are left alone; see docs/proof.md.
    """
    odds = {"p500": 0.03, "p503": 0.02, "p429": 0.02, "ptimeout": 0.01}
    return {
        "rules": [
            {"path": API + HARNESS_PATHS, "method": "PUT", **odds, "after_commit": True},
            {"path": API + HARNESS_PATHS, "method": "POST", **odds, "after_commit": True},
            {"path": API, "method": "GET", **odds},
        ],
        "timeout_seconds": timeout_seconds,
        "seed": seed,
    }


def bad_body(rng: random.Random, n: int, skus: list[str]) -> tuple[dict[str, Any], str]:
    kind, change, reason = BAD_KINDS[n % len(BAD_KINDS)]
    body = shopper(rng, n, emails=7, skus=skus)
    body["email"] = f"bad{n:05d}@example.net"
    if kind == "state":
        body["billing_address"].update(change)
    else:
        body["items"] = [{"sku": change["sku"], "amount": 1}]
    return body, reason


@dataclass(eq=False)
class Shopper(threading.Thread):
    """Places ``valid`` good and ``bad`` bad orders at ``rate`` per second, mixed at random."""

    driver: Driver
    valid: int
    bad: int
    rate: float
    buyers: int
    placed_valid: dict[str, str] = field(default_factory=dict)
    placed_bad: dict[str, tuple[str, str]] = field(default_factory=dict)
    refused: list[str] = field(default_factory=list)
    done: threading.Event = field(default_factory=threading.Event)
    stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        super().__init__(daemon=True)

    def run(self) -> None:
        rng = random.Random(31)
        plan = ["valid"] * self.valid + ["bad"] * self.bad
        rng.shuffle(plan)
        started = time.monotonic()
        try:
            for n, kind in enumerate(plan):
                if self.stop.is_set():
                    return
                wait = started + n / self.rate - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                if kind == "valid":
                    body, reason = shopper(rng, n, emails=self.buyers, skus=self.driver.skus), ""
                else:
                    body, reason = bad_body(rng, n, self.driver.skus)
                try:
                    order = self.driver.xcart.post("checkout", body)
                except RuntimeError as exc:
                    self.refused.append(f"{kind} #{n}: {exc}")
                    continue
                if kind == "valid":
                    self.placed_valid[str(order["order_number"])] = str(order["id"])
                else:
                    self.placed_bad[str(order["order_number"])] = (str(order["id"]), reason)
        finally:
            self.done.set()


class Warehouse:
    """Ships a share of the synced orders in Acumatica: one confirmed shipment each, tracked."""

    def __init__(self, driver: Driver, erp: Acumatica, share: float) -> None:
        self.driver = driver
        self.erp = erp
        self.share = share
        self.rng = random.Random(13)
        self.seen: set[str] = set()
        self.shipped: dict[str, str] = {}  # X-Cart order id -> ShipmentNbr
        self.errors: list[str] = []

    def tick(self, limit: int = 20) -> int:
        made = 0
        for source, key, _status, _at in self.driver.ledger.rows("orders"):
            if not key or source in self.seen:
                continue
            self.seen.add(source)
            if self.rng.random() >= self.share or made >= limit:
                continue
            try:
                self.shipped[source] = self.ship(key, f"TRK{int(source):08d}")
                made += 1
            except Exception as exc:
                self.errors.append(f"{source}: {exc}")
        return made

    def ship(self, key: str, tracking: str) -> str:
        order_type, order_nbr = key.split("/", 1)
        base = f"{self.erp.base_url}{ENDPOINT}"
        so = self.erp.http.get(
            f"{base}/SalesOrder/{order_type}/{order_nbr}", params={"$select": "CustomerID"},
            timeout=60,
        )  # fmt: skip
        so.raise_for_status()
        customer = so.json()["CustomerID"]["value"]
        answer = self.erp.http.put(
            f"{base}/Shipment",
            json={
                "Type": {"value": "Shipment"},
                "CustomerID": {"value": customer},
                "WarehouseID": {"value": "RETAIL"},  # the orders template's warehouse
                "Details": [{"OrderType": {"value": order_type}, "OrderNbr": {"value": order_nbr}}],
                "Packages": [{"TrackingNbr": {"value": tracking}}],
            },
            timeout=60,
        )
        if answer.status_code >= 300:
            raise RuntimeError(f"PUT Shipment: {answer.status_code} {answer.text[:200]}")
        number = answer.json()["ShipmentNbr"]["value"]
        confirm = self.erp.http.post(
            f"{base}/Shipment/ConfirmShipment",
            json={"entity": {"ShipmentNbr": {"value": number}}},
            timeout=60,
        )
        if confirm.status_code >= 300:
            raise RuntimeError(f"ConfirmShipment: {confirm.status_code} {confirm.text[:200]}")
        return str(number)


class Refunder:
    """Refunds a share of the synced orders the warehouse did not ship, as the store admin does
    (``/_sandbox/orders/{id}/refund``: X-Cart has no API for it): in full, in part, or in two
    parts (the second one often while the engine is still recording the first)."""

    def __init__(self, driver: Driver, warehouse: Warehouse, share: float) -> None:
        self.driver = driver
        self.store = XCart(driver.stack.env["XCART_BASE_URL"])
        self.warehouse = warehouse
        self.share = share
        self.rng = random.Random(17)
        self.seen: set[str] = set()
        #: X-Cart order id -> amounts refunded (as the store accepted them).
        self.refunded: dict[str, list[float]] = {}
        self.errors: list[str] = []

    def tick(self, limit: int = 10) -> int:
        made = 0
        for source in sorted(self.warehouse.seen - set(self.warehouse.shipped) - self.seen):
            self.seen.add(source)
            if self.rng.random() >= self.share or made >= limit:
                continue
            kind = self.rng.choice(("full", "part", "two_parts"))
            try:
                total = self._total(source)
                if kind == "full":
                    self._refund(source, total)
                else:
                    first = round(total * self.rng.choice((0.25, 0.4, 0.5)), 2)
                    self._refund(source, first)
                    if kind == "two_parts":
                        self._refund(source, round(total - first, 2))
                made += 1
            except (RuntimeError, requests.RequestException) as exc:
                self.errors.append(f"{source}: {exc}")
        return made

    def _total(self, source: str) -> float:
        answer = self.store.http.get(f"{self.store.base_url}/api/orders/{source}", timeout=60)
        answer.raise_for_status()
        return float(answer.json()["total"])

    def _refund(self, source: str, amount: float) -> None:
        self.driver.xcart.post(f"orders/{source}/refund", {"amount": amount})
        self.refunded.setdefault(source, []).append(amount)
