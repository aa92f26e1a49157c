"""Figure: what an idle Acumatica change poll costs, per flow and per ``poll.source``.

A private stack (its own Redis, sandboxes, ledger); each flow's cursor poll runs in this
process, once to start its cursor and ``rounds`` more times with nothing changed. Counted by
the Acumatica sandbox: contract-API requests (sign-in excluded), OData requests and API
sign-ins per idle poll. Targets with ``odata``: 0 contract-API requests, 1 OData request, 0
sign-ins. Payments is not switchable (its status poll reads the contract API).

Inventory is then measured busy too: ``CHANGED_ITEMS`` items restocked in Acumatica (both
warehouses), one poll that finds and flushes them. Target with ``odata``: 0 contract-API
requests (the flushes take the availability the poll read through OData).
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import yaml

from bench.sandbox import Control
from bench.stack import Stack

#: flow -> (template key, value for OData, value for the contract API)
SOURCES = {
    "shipments": ("source", "odata", "rest"),
    "customers": ("source", "odata", "rest"),
    "products": ("source", "odata", "rest"),
    "inventory": ("changes", "INSiteStatus", "InventoryQuantityAvailable"),
}


#: Items whose stock changes before the busy inventory poll.
CHANGED_ITEMS = 10


def _templates(target: Path, source: str) -> Path:
    """The bundled templates, every poll settling at once, each flow on ``source``."""
    from sync_workers.mapping import templates

    target.mkdir(parents=True, exist_ok=True)
    for path in templates.BUNDLED_DIR.glob("*.yaml"):
        shutil.copy(path, target / path.name)
    for flow, (key, odata, rest) in SOURCES.items():
        path = target / f"{flow}.yaml"
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        poll = data.setdefault("poll", {})
        poll[key] = odata if source == "odata" else rest
        # idle: nothing changed inside the overlap either (the seed is older than a second)
        poll["settle_seconds"] = 0
        poll["overlap_seconds"] = 1
        poll.pop("sweep_seconds", None)
        if flow == "customers":
            poll["profile_scan_seconds"] = 10**9  # only Acumatica's side is measured
        if flow == "products":
            poll["store_scan_seconds"] = 10**9
        if flow == "inventory":
            poll["full_compare_seconds"] = 10**9
        path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return target


def _poll(flow: str) -> dict[str, Any]:
    from sync_workers.flows.shape import PollRequest

    def hand_out(starts: Any) -> list[str]:
        return [start.record_id for start in starts]

    if flow == "shipments":
        from sync_workers.flows import shipments

        return shipments.poll(PollRequest(), hand_out)
    if flow == "customers":
        from sync_workers.flows import customers

        return customers.poll(PollRequest(), hand_out)
    if flow == "products":
        from sync_workers.flows import products

        return products.poll(PollRequest(), hand_out)
    from sync_workers.flows import inventory

    return inventory.poll(PollRequest(), hand_out)


def _busy_inventory_poll(acumatica: Control, base_url: str) -> dict[str, Any]:
    """Requests of one inventory poll after ``CHANGED_ITEMS`` items were restocked."""
    from bench.sandbox import Acumatica, stocked_skus

    skus = stocked_skus()[:CHANGED_ITEMS]
    with Acumatica(base_url) as erp:
        erp.raise_stock(skus, qty=3)
    acumatica.reset_stats()
    found = _poll("inventory")
    contract, odata, logins = _count(acumatica.stats()["requests"]["by_path"])
    return {
        "items_changed": len(skus),
        "skus_flushed": len(found.get("changed") or ()),
        "contract_requests": contract,
        "odata_requests": odata,
        "sign_ins": logins,
    }


def _count(by_path: dict[str, int]) -> tuple[int, int, int]:
    contract = sum(n for p, n in by_path.items() if "/entity/" in p and "/entity/auth/" not in p)
    odata = sum(n for p, n in by_path.items() if "/api/odata/" in p)
    logins = by_path.get("POST /entity/auth/login", 0)
    return contract, odata, logins


def run(*, rounds: int = 5, keep: bool = False) -> dict[str, Any]:
    """``{"<flow>": {"odata": {...}, "rest": {...}}}``: requests per idle poll, averaged over
    ``rounds`` polls after one that starts the cursor."""
    figures: dict[str, Any] = {}
    for source in ("odata", "rest"):  # a stack each: cursors start afresh
        with Stack(name=f"bench-odata-polls-{source}", keep=keep) as stack:
            stack.start_redis()
            stack.start_sandboxes()
            stack.migrate()
            stack.apply_env()
            from sync_workers import clients
            from sync_workers.mapping import templates

            templates.use_templates_dir(_templates(stack.root / "templates", source))
            clients.close_all()
            acumatica = Control(stack.env["ACUMATICA_BASE_URL"])
            try:
                time.sleep(1.5)  # the seed's records leave every overlap
                for flow in SOURCES:
                    _poll(flow)  # starts the cursor (and, for some flows, a first full read)
                    time.sleep(1.5)
                    acumatica.reset_stats()
                    for _ in range(rounds):
                        _poll(flow)
                    contract, odata, logins = _count(acumatica.stats()["requests"]["by_path"])
                    figures.setdefault(flow, {})[source] = {
                        "contract_requests_per_idle_poll": round(contract / rounds, 2),
                        "odata_requests_per_idle_poll": round(odata / rounds, 2),
                        "sign_ins": logins,
                    }
                figures["inventory"][source]["busy_poll"] = _busy_inventory_poll(
                    acumatica, stack.env["ACUMATICA_BASE_URL"]
                )
            finally:
                templates.use_templates_dir(None)
                clients.close_all()
    return figures


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
