"""The store SKU index under X-Cart faults, and what an idle inventory poll costs."""

from __future__ import annotations

import json
import re
import threading

import pytest
import requests

import tasks.inventory
from sync_workers import clients
from sync_workers.connectors.xcart.index import IndexIncomplete, StoreIndex
from sync_workers.flows.runner import run_inline
from sync_workers.ledger import CursorStore

VARIANT_LIST = re.compile(r"^GET /api/products/(\d+)/variants$")


def faults(url: str, rules: list[dict], **options) -> None:
    body = {"rules": rules, "timeout_seconds": 0.2, "seed": 7, **options}
    requests.post(f"{url}/_sandbox/faults", json=body, timeout=10).raise_for_status()


def variant_reads(store) -> dict[int, int]:
    """Variant-list requests per product id since the last stats reset."""
    out: dict[int, int] = {}
    for path, count in store.stats().items():
        found = VARIANT_LIST.match(path)
        if found:
            out[int(found.group(1))] = count
    return out


def store_index() -> StoreIndex:
    return StoreIndex(clients.xcart())


def truth() -> dict[str, tuple[int, int | None]]:
    return {s: (t.product_id, t.variant_id) for s, t in store_index().scan().items()}


def indexed() -> dict[str, tuple[int, int | None]]:
    return {s: (t.product_id, t.variant_id) for s, t in store_index().current().items()}


def test_index_build_completes_under_xcart_faults_with_only_failed_calls_repeated(
    store, redis_client
) -> None:
    expected = truth()
    product_ids = {pid for pid, _ in expected.values()}
    store.reset_stats()
    # 8 % of X-Cart calls fail, as in the chaos run: 5 % 5xx, 2 % 429, 1 % held and dropped.
    faults(store.url, [{"path": "^/api/", "p500": 0.05, "p429": 0.02, "ptimeout": 0.01}])

    assert indexed() == expected
    reads = variant_reads(store)
    assert set(reads) == product_ids
    # Each product's list was read once, plus the few in-place retries of calls that failed.
    faulted = sum(n for kind, n in _fault_counts(store).items())
    assert sum(reads.values()) <= len(product_ids) + faulted


def _fault_counts(store) -> dict[str, int]:
    stats = store.http.get(f"{store.url}/_sandbox/stats", timeout=10).json()
    return {k: v for k, v in (stats.get("faults_injected") or {}).items() if isinstance(v, int)}


def test_rebuild_after_partial_success_rereads_only_what_was_missing(store, redis_client) -> None:
    expected = truth()
    product_ids = sorted({pid for pid, _ in expected.values()})
    broken = product_ids[:3]
    pattern = "^/api/products/(" + "|".join(str(p) for p in broken) + ")/variants$"
    faults(store.url, [{"path": pattern, "p503": 1.0}])
    store.reset_stats()

    with pytest.raises(IndexIncomplete):
        store_index().current(refresh=True)
    assert set(variant_reads(store)) == set(product_ids)
    # What was read is usable at once; a SKU of the unread products defers instead of skipping.
    known = store_index().current(partial=True)
    assert {s for s, (pid, _) in expected.items() if pid not in broken} <= set(known)
    missing_variants = [s for s, (pid, vid) in expected.items() if vid and pid in broken]
    if missing_variants:
        with pytest.raises(IndexIncomplete):
            store_index().find(missing_variants[0])

    faults(store.url, [])
    store.reset_stats()
    assert indexed() == expected  # the stale, incomplete index is brought up to date
    assert set(variant_reads(store)) == set(broken)
    pages = {p: n for p, n in store.stats().items() if p == "GET /api/products"}
    assert pages == {"GET /api/products": len(product_ids) // 100 + 1}

    store.reset_stats()
    store_index().current(refresh=True)  # nothing changed: product pages only
    assert variant_reads(store) == {}


def test_concurrent_rebuilds_read_the_store_once(store, redis_client) -> None:
    product_ids = {pid for pid, _ in truth().values()}
    store.reset_stats()
    results: list[bool] = []
    threads = [
        threading.Thread(target=lambda: results.append(store_index().rebuild(wait=30)))
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert results == [True] * 4
    assert sum(variant_reads(store).values()) == len(product_ids)


def _acumatica_stats(sandboxes) -> dict[str, int]:
    url = sandboxes["acumatica"].url
    return requests.get(f"{url}/_sandbox/stats", timeout=10).json()["requests"]["by_path"]


def _reset_stats(sandboxes) -> None:
    for server in sandboxes.values():
        requests.post(f"{server.url}/_sandbox/stats/reset", json={}, timeout=10)


def test_idle_poll_after_a_completed_poll_costs_one_request(
    sandboxes, erp, store, clean_ledger
) -> None:
    first = tasks.inventory.poll()
    assert first["changed"] == []
    # the change query's cursor is in the ledger, where sync-status reads every flow's
    assert json.loads(CursorStore().get("inventory", "acumatica_to_xcart") or "{}")["position"]
    _reset_stats(sandboxes)

    idle = tasks.inventory.poll()

    calls = {**store.stats(), **_acumatica_stats(sandboxes)}
    print(f"\nidle inventory poll: {calls}")
    assert idle["changed"] == []
    assert sum(calls.values()) == 1, calls


def test_poll_after_an_erp_change_flushes_only_that_sku(
    sandboxes, erp, store, clean_ledger
) -> None:
    products = store.products()
    tasks.inventory.poll()
    erp.adjust([("AA-0021", "RETAIL", 5)])
    _reset_stats(sandboxes)

    found = tasks.inventory.poll()

    assert found["changed"] == ["AA-0021"]
    assert store.amount(products["AA-0021"]["id"]) == products["AA-0021"]["amount"] + 5
    assert not any(p.startswith("GET /api/products?") for p in store.stats())
    assert "GET /api/products" not in store.stats()  # the store index was not read again
    _reset_stats(sandboxes)
    again = tasks.inventory.poll()
    assert again["changed"] == []
    assert sum({**store.stats(), **_acumatica_stats(sandboxes)}.values()) == 1


def test_incremental_poll_gives_back_units_of_an_order_the_ledger_now_shows_synced(
    sandboxes, erp, store, clean_ledger
) -> None:
    from sync_workers.ledger import claim_record, mark_synced, session_scope

    sku = "AA-0012"
    product = store.products()[sku]
    tasks.inventory.poll()  # the full comparison: the next polls are incremental
    placed = store.checkout([(sku, 3)])
    assert placed.status_code == 201, placed.text
    erp.adjust([(sku, "WHOLESALE", 10)])
    assert run_inline("inventory", "sync", sku)["summary"]["unsynced"] == 3  # in the book
    assert tasks.inventory.poll()["changed"] == [sku]  # the ERP change, already written: no-op
    assert store.amount(product["id"]) == product["amount"] + 10 - 3

    with session_scope() as session:
        record = claim_record(session, "orders", "xcart_to_acumatica", str(placed.json()["id"]))
        mark_synced(session, record, target_key="SO/000001")
    found = tasks.inventory.poll()

    assert found["full"] is False and found["changed"] == [sku]
    assert store.amount(product["id"]) == product["amount"] + 10
    assert tasks.inventory.poll()["changed"] == []
