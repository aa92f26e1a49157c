"""Drivers for the catalog and inventory tests: both sandboxes, a webhook receiver, a ledger."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterable
from typing import Any

import pytest
import requests

from sync_workers.clients import acumatica_config
from sync_workers.connectors.acumatica.client import AcumaticaClient
from sync_workers.mapping import templates
from sync_workers.mapping.templates import BUNDLED_DIR
from sync_workers.redis_client import get_redis
from sync_workers.settings import get_settings, load_settings

PUSH_SECRET = "catalog-push-secret-of-32-chars-or-more"
PUSH_HEADER = "X-Sync-Secret"


def wait_for(predicate: Callable[[], Any], timeout: float = 20.0, interval: float = 0.02) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered) + 0.5) - 1))]


class Erp:
    """Drives the Acumatica sandbox as a warehouse clerk would: adjustments, released."""

    def __init__(self) -> None:
        settings = get_settings()
        self.api = AcumaticaClient(
            acumatica_config(settings),
            get_redis(),
            prefix=settings.redis_key_prefix + "driver:",
            register_atexit=False,
        )

    def adjust(self, lines: Iterable[tuple[str, str, float]]) -> None:
        """Release one adjustment of (sku, warehouse, qty delta) lines."""
        details = [{"InventoryID": s, "WarehouseID": w, "Qty": q} for s, w, q in lines]
        doc = self.api.put("InventoryAdjustment", {"Hold": False, "Details": details})
        self.api.invoke_action(
            "InventoryAdjustment", "ReleaseAdjustment", {"ReferenceNbr": doc["ReferenceNbr"]}
        )

    def available(self, sku: str, warehouses: tuple[str, ...] = ("WHOLESALE", "RETAIL")) -> float:
        answer = self.api.put("InventorySummaryInquiry", {"InventoryID": sku}, expand=["Results"])
        return sum(
            r["QtyAvailable"] for r in answer["Results"] if r["WarehouseID"].upper() in warehouses
        )

    def availability(self) -> dict[str, float]:
        totals: dict[str, float] = {}
        for row in self.api.odata.gi("ItemAvailability"):
            sku = row["InventoryID"].upper()
            totals[sku] = totals.get(sku, 0.0) + row["QtyAvailable"]
        return totals

    def close(self) -> None:
        self.api.close()


class Store:
    """Reads and shops the X-Cart sandbox over HTTP."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = requests.Session()
        self.http.headers["X-Auth-Token"] = "sandbox-rw"

    def products(self) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        page = 1
        while True:
            batch = self.http.get(
                f"{self.url}/api/products", params={"page": page, "itemsPerPage": 100}, timeout=10
            ).json()
            found.update({p["sku"].upper(): p for p in batch})
            if len(batch) < 100:
                return found
            page += 1

    def amount(self, product_id: int) -> int:
        return int(
            self.http.get(f"{self.url}/api/products/{product_id}", timeout=10).json()["amount"]
        )

    def product(self, product_id: int) -> dict[str, Any]:
        return self.http.get(f"{self.url}/api/products/{product_id}", timeout=10).json()

    def update(self, product_id: int, fields: dict[str, Any]) -> dict[str, Any]:
        answer = self.http.put(f"{self.url}/api/products/{product_id}", json=fields, timeout=10)
        answer.raise_for_status()
        return answer.json()

    def checkout(self, items: list[tuple[str, int]]) -> requests.Response:
        body = {
            "email": "racer@example.com",
            "items": [{"sku": s, "amount": a} for s, a in items],
            "billing_address": {
                "firstname": "Ray",
                "lastname": "Cer",
                "street": "1 Main St",
                "city": "Austin",
                "zipcode": "73301",
                "country_code": "US",
                "state_code": "TX",
            },
            "payment_method": "Credit Card",
        }
        return self.http.post(f"{self.url}/_sandbox/checkout", json=body, timeout=10)

    def stats(self) -> dict[str, int]:
        return self.http.get(f"{self.url}/_sandbox/stats", timeout=10).json()["requests"]["by_path"]

    def reset_stats(self) -> None:
        self.http.post(f"{self.url}/_sandbox/stats/reset", json={}, timeout=10).raise_for_status()


@pytest.fixture
def template(tmp_path):
    """Edit a copy of the bundled products template for one test (``edit(old, new)``)."""
    folder = tmp_path / "templates"
    shutil.copytree(BUNDLED_DIR, folder)
    templates.use_templates_dir(folder)

    def edit(old: str, new: str) -> None:
        path = folder / "products.yaml"
        text = path.read_text(encoding="utf-8")
        assert old in text
        path.write_text(text.replace(old, new), encoding="utf-8")
        templates.clear_cache()

    yield edit
    templates.use_templates_dir(None)


def attributes_of(erp, sku: str) -> dict[str, str]:
    item = erp.api.get_by_keys("StockItem", sku, expand=["Attributes"])
    return {row["AttributeID"]: row["Value"] for row in item.get("Attributes") or ()}


@pytest.fixture
def erp(sandboxes):
    driver = Erp()
    yield driver
    driver.close()


@pytest.fixture
def store(sandboxes):
    client = Store(sandboxes["xcart"].url)
    yield client
    client.http.close()


def _receiver(sandboxes, flow: str, query: str):
    """The engine's webhook receiver, with Acumatica pushing ``query`` rows to ``flow``."""
    from sandboxes.common.server import serve_in_thread
    from sync_workers.webhooks import create_app

    env = {
        **os.environ,
        "WEBHOOK_ACUMATICA_SECRET": PUSH_SECRET,
        "WEBHOOK_ACUMATICA_HEADER": PUSH_HEADER,
    }
    server = serve_in_thread(create_app(load_settings(env)))
    subscription = {
        "name": flow,
        "url": f"{server.url}/webhooks/acumatica/{flow}",
        "queries": [query],
        "header_name": PUSH_HEADER,
        "header_value": PUSH_SECRET,
    }
    acumatica = sandboxes["acumatica"].url
    requests.post(f"{acumatica}/_sandbox/push", json=subscription, timeout=10).raise_for_status()
    yield server
    requests.post(f"{acumatica}/_sandbox/push", json={"subscriptions": []}, timeout=10)
    server.stop()


@pytest.fixture
def push_receiver(sandboxes, redis_client):
    """Stock changes (``ItemAvailability`` rows) pushed to the inventory flow."""
    yield from _receiver(sandboxes, "inventory", "ItemAvailability")


@pytest.fixture
def products_push_receiver(sandboxes, redis_client):
    """Stock-item edits (``StockItems`` rows) pushed to the products flow."""
    yield from _receiver(sandboxes, "products", "StockItems")
