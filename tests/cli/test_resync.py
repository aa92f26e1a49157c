"""``resync``: publishes the flow's poll; ``--dry-run`` plans and writes nothing anywhere."""

from __future__ import annotations

import re

import requests
from sqlalchemy import func, select

from sync_workers.ledger.db import session_scope
from sync_workers.ledger.models import Cursor, SyncRecord
from sync_workers.settings import get_settings
from tests.cli.conftest import queued
from tests.flows.order_to_cash.helpers import address, checkout

#: Counters about traffic, not data: a read moves them too.
TRAFFIC = re.compile(r"concurren|session|login|logout|peak|requests|throttled|declined|queued")


def sandbox_state(url: str) -> dict:
    """What a write would change: non-read requests and the data counters of a sandbox.

    Acumatica inquiries are read with PUT (``…Inquiry``), and signing in is not a data write.
    """
    stats = requests.get(f"{url}/_sandbox/stats", timeout=10).json()
    writes = {
        path: n
        for path, n in stats["requests"]["by_path"].items()
        if not path.startswith("GET ") and "/auth/" not in path and not path.endswith("Inquiry")
    }
    counts = {k: v for k, v in stats.items() if isinstance(v, int) and not TRAFFIC.search(k)}
    return {"writes": writes, "counts": counts}


def ledger_counts() -> tuple[int, int]:
    with session_scope() as session:
        return (
            session.scalar(select(func.count()).select_from(SyncRecord)) or 0,
            session.scalar(select(func.count()).select_from(Cursor)) or 0,
        )


def all_queued(redis_client) -> int:
    prefix = get_settings().redis_key_prefix
    from sync_workers.celery import QUEUES

    return sum(redis_client.llen(prefix + q) for q in QUEUES)


def place_order(xcart_url: str, who: str) -> dict:
    return checkout(
        xcart_url,
        {
            "email": f"{who}@example.com",
            "items": [{"sku": "AA-0001", "amount": 1}],
            "billing_address": address("Ops", who.title()),
            "payment_method": "Credit Card",
        },
    )


def test_resync_publishes_the_poll_with_since_and_ids(cli, redis_client) -> None:
    result = cli(
        "resync", "orders", "--since", "2026-11-27T05:00", "--id", "5", "--id", "6", "--json"
    )

    assert result.exit_code == 0
    messages = queued(redis_client, "orders")
    assert [(m["task"], m["kwargs"]) for m in messages] == [
        ("tasks.orders.poll", {"since": "2026-11-27T05:00:00+00:00", "ids": ["5", "6"]})
    ]
    assert messages[0]["headers"]["id"] == result.json["task_id"]


def test_resync_all_publishes_a_full_rescan(cli, redis_client) -> None:
    result = cli("resync", "inventory", "--all")

    assert result.exit_code == 0
    assert "enqueued tasks.inventory.poll" in result.output
    assert [m["kwargs"] for m in queued(redis_client, "inventory")] == [{"all": True}]


def test_resync_usage_errors_exit_2_and_publish_nothing(cli, redis_client) -> None:
    bad_flow = cli("resync", "invoices")
    bad_since = cli("resync", "orders", "--since", "last tuesday")
    mixed = cli("resync", "orders", "--all", "--id", "5")

    assert (bad_flow.exit_code, bad_since.exit_code, mixed.exit_code) == (2, 2, 2)
    assert "unknown flow" in bad_flow.stderr
    assert "not an ISO date" in bad_since.stderr
    assert all_queued(redis_client) == 0


def test_dry_run_lists_creates_and_leaves_both_sandboxes_unchanged(
    cli, sandboxes, clean_ledger, redis_client
) -> None:
    xcart, erp = sandboxes["xcart"].url, sandboxes["acumatica"].url
    placed = [place_order(xcart, "dry.one"), place_order(xcart, "dry.two")]
    before = (sandbox_state(xcart), sandbox_state(erp), ledger_counts())

    result = cli("resync", "orders", "--dry-run", "--json")
    human = cli("resync", "orders", "--dry-run")

    assert result.exit_code == 0, result.stderr
    planned = {c["source_id"]: c["action"] for c in result.json["changes"]}
    assert planned == {str(o["id"]): "create" for o in placed}
    assert "2 create" in human.output
    assert (sandbox_state(xcart), sandbox_state(erp), ledger_counts()) == before
    assert all_queued(redis_client) == 0


def test_dry_run_prints_field_differences_and_writes_nothing(
    cli, sandboxes, clean_ledger, redis_client
) -> None:
    from sync_workers import clients
    from tests.cli.test_reconcile import _product

    xcart, erp = sandboxes["xcart"].url, sandboxes["acumatica"].url
    product = _product("AA-0003")
    clients.xcart().request("PUT", f"/api/products/{product['id']}", json={"amount": 9999})
    before = (sandbox_state(xcart), sandbox_state(erp), ledger_counts())

    result = cli("resync", "inventory", "--id", "AA-0003", "--dry-run", "--json")
    human = cli("resync", "inventory", "--id", "AA-0003", "--dry-run")

    assert result.exit_code == 0, result.stderr
    [change] = result.json["changes"]
    assert change["action"] == "update" and change["source_id"] == "AA-0003"
    [diff] = change["changes"]
    assert diff["field"] == "amount" and diff["current"] == 9999 and diff["proposed"] != 9999
    assert f"AA-0003: amount: 9999 -> {diff['proposed']!r}" in human.output
    assert (sandbox_state(xcart), sandbox_state(erp), ledger_counts()) == before
    assert _product("AA-0003")["amount"] == 9999
    assert all_queued(redis_client) == 0
