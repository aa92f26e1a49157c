"""``reconcile``: drift planted in the sandboxes is found, and ``--repair`` removes it."""

from __future__ import annotations

import time

from tasks import orders as _orders  # noqa: F401  (registers the order steps in the worker)
from tasks import payments as _payments  # noqa: F401
from tests.cli.conftest import queued
from tests.cli.test_resync import place_order


def test_orders_missing_from_acumatica_are_found_and_repaired(
    cli, sandboxes, clean_ledger, celery_worker
) -> None:
    xcart = sandboxes["xcart"].url
    placed = {str(place_order(xcart, f"drift.{n}")["id"]) for n in range(2)}

    found = cli("reconcile", "orders", "--json")

    assert found.exit_code == 1
    assert {(d["kind"], d["source_id"]) for d in found.json["drift"]} == {
        ("missing_in_target", source) for source in placed
    }

    repaired = cli("reconcile", "orders", "--repair", "--json")

    assert repaired.exit_code == 1  # drift was there when it looked
    assert sorted(repaired.json["repair"]["enqueued"][0]["ids"]) == sorted(placed)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        after = cli("reconcile", "orders", "--json")
        if after.exit_code == 0:
            break
        time.sleep(0.5)
    assert after.exit_code == 0, after.json
    assert after.json["drift"] == []
    plan = cli("resync", "orders", "--dry-run", "--json").json["changes"]
    assert {c["source_id"]: c["action"] for c in plan} == dict.fromkeys(placed, "skip")


def test_reconcile_without_drift_exits_0_and_says_so(cli, sandboxes, clean_ledger) -> None:
    result = cli("reconcile", "orders")

    assert result.exit_code == 0
    assert "no drift in orders" in result.output


def test_repair_without_drift_enqueues_nothing(cli, sandboxes, clean_ledger, redis_client) -> None:
    result = cli("reconcile", "orders", "--repair", "--json")

    assert result.exit_code == 0
    assert result.json["repair"] == {"enqueued": [], "manual": []}
    assert queued(redis_client, "orders") == []


def test_reconcile_usage_errors_exit_2(cli) -> None:
    assert cli("reconcile", "invoices").exit_code == 2
    assert cli("reconcile", "orders", "--since", "yesterday-ish").exit_code == 2


def _product(sku: str) -> dict:
    from sync_workers import clients

    page = clients.xcart().get("/api/products", {"sku": sku})
    items = page if isinstance(page, list) else page.get("hydra:member") or page.get("items") or []
    return next(p for p in items if p.get("sku") == sku)


def test_stock_planted_wrong_in_xcart_is_found_and_repaired(
    cli, sandboxes, clean_ledger, celery_worker
) -> None:
    from sync_workers import clients
    from tasks import inventory as _inventory  # noqa: F401

    baseline = {d["source_id"] for d in cli("reconcile", "inventory", "--json").json["drift"]}
    product = _product("AA-0003")
    clients.xcart().request("PUT", f"/api/products/{product['id']}", json={"amount": 9999})

    found = cli("reconcile", "inventory", "--json")
    planted = [d for d in found.json["drift"] if d["source_id"] == "AA-0003"]

    assert found.exit_code == 1
    assert "AA-0003" not in baseline
    assert planted and planted[0]["kind"] == "mismatch"
    assert planted[0]["details"]["xcart_amount"] == 9999

    cli("reconcile", "inventory", "--repair")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        answer = cli("reconcile", "inventory", "--json").json
        assert "drift" in answer, answer
        after = answer["drift"]
        if not any(d["source_id"] == "AA-0003" for d in after):
            break
        time.sleep(0.5)
    assert not any(d["source_id"] == "AA-0003" for d in after)
    assert _product("AA-0003")["amount"] != 9999


def test_since_limits_reconcile_to_recent_changes(cli, sandboxes, clean_ledger) -> None:
    from datetime import UTC, datetime, timedelta

    placed = str(place_order(sandboxes["xcart"].url, "since.check")["id"])
    hour_ago = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()

    recent = cli("reconcile", "orders", "--since", hour_ago, "--json")
    future = cli("reconcile", "orders", "--since", later, "--json")

    assert placed in {d["source_id"] for d in recent.json["drift"]}
    assert recent.exit_code == 1
    assert future.json["drift"] == [] and future.exit_code == 0
