"""A shopper's data in a dead-lettered order: in its dead-letter entry only, and only until the
entry is resolved or its replay went through. Both sandboxes, a real worker, the CLI."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import select

from sync_workers.ledger import session_scope
from sync_workers.ledger.models import Base
from sync_workers.settings import get_settings
from sync_workers.task import get_dlq
from tasks import orders as order_tasks
from tasks.maintenance import dead_letter_upkeep
from tests.cli.test_dlq import editor_script
from tests.flows.order_to_cash.conftest import fast_templates  # noqa: F401  (settle at once)
from tests.flows.order_to_cash.helpers import address, checkout, linked, wait_for

ROOT = Path(__file__).resolve().parents[2]
EMAIL = "noor.haddad@example.net"
STREET = "4417 Juniper Hollow Road"


def place_unknown_sku_order(xcart: str, sku: str = "WEB-GIFT-25") -> dict[str, Any]:
    return checkout(
        xcart,
        {
            "email": EMAIL,
            "items": [{"sku": sku, "amount": 1}],
            "billing_address": address("Noor", "Haddad", "TX", street=STREET),
            "payment_method": "Credit Card",
        },
    )


def open_entry(order_id: int, replay_of: str | None = None):
    def found():
        return [
            e for e in get_dlq().iter_entries(record_id=str(order_id)) if e.replay_of == replay_of
        ]

    return wait_for(found, timeout=30)[0]


def redis_holding(*needles: str) -> dict[str, list[str]]:
    """Every key under the engine's prefix whose value holds one of ``needles`` (a hash: the
    fields holding one), whatever its type."""
    client = get_dlq().redis
    found: dict[str, list[str]] = {}
    for key in client.scan_iter(match=get_settings().redis_key_prefix + "*", count=1000):
        kind = client.type(key)
        if kind == "hash":
            values = [f"{field}={value}" for field, value in client.hgetall(key).items()]
        elif kind == "string":
            values = [client.get(key) or ""]
        elif kind == "list":
            values = client.lrange(key, 0, -1)
        elif kind == "set":
            values = list(client.smembers(key))
        elif kind == "zset":
            values = client.zrange(key, 0, -1)
        else:
            values = [f"<{kind}>"]
        hits = [v.split("=", 1)[0] if kind == "hash" else key for v in values if _has(v, needles)]
        if hits:
            found[key] = hits
    return found


def ledger_holding(*needles: str) -> list[str]:
    """Tables of the ledger with a row holding one of ``needles``."""
    tables = []
    with session_scope() as session:
        for table in Base.metadata.sorted_tables:
            rows = session.execute(select(table)).all()
            if any(_has(repr(tuple(row)), needles) for row in rows):
                tables.append(table.name)
    return tables


def _has(text: str, needles: tuple[str, ...]) -> bool:
    return any(needle in text for needle in needles)


def celery_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "celery", "-A", "sync_workers", *args],
        cwd=ROOT,
        env=os.environ.copy(),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_dead_lettered_order_keeps_the_shoppers_data_in_its_entry_only_until_resolved(
    sandboxes, clean_ledger, celery_worker
) -> None:
    order = place_unknown_sku_order(sandboxes["xcart"].url)
    order_tasks.poll.delay()

    entry = open_entry(order["id"])
    entries_key = get_settings().redis_key_prefix + "dlq:entries"

    assert entry.step == "validate" and entry.task == "tasks.orders.sync"
    only_the_entry = {entries_key: [entry.id]}
    with contextlib.suppress(AssertionError):  # the failed message is acknowledged just after
        wait_for(lambda: redis_holding(EMAIL, STREET) == only_the_entry, timeout=10)
    assert redis_holding(EMAIL, STREET) == only_the_entry
    assert ledger_holding(EMAIL, STREET) == []

    resolved = celery_cli("dlq", "resolve", entry.id, "--by", "ops-oncall", "--note", "refunded")

    assert resolved.returncode == 0, resolved.stderr[-2000:]
    assert "resolved by ops-oncall" in resolved.stdout
    assert redis_holding(EMAIL, STREET) == {}
    assert ledger_holding(EMAIL, STREET) == []
    after = get_dlq().get(entry.id)
    assert after.status == "resolved" and after.record_id == str(order["id"])
    assert after.field_errors == {
        "items[0].sku": "SKU 'WEB-GIFT-25' is not known in Acumatica and not mapped"
    }
    shown = celery_cli("dlq", "show", entry.id)
    assert shown.returncode == 0, shown.stderr[-2000:]
    assert not _has(shown.stdout + shown.stderr, (EMAIL, STREET))


def test_a_replayed_order_keeps_its_data_until_the_record_went_through(
    cli, sandboxes, clean_ledger, celery_worker, tmp_path
) -> None:
    order = place_unknown_sku_order(sandboxes["xcart"].url)
    order_tasks.poll.delay()
    first = open_entry(order["id"])

    still_unknown = editor_script(tmp_path, "text = text.replace('WEB-GIFT-25', 'WEB-GIFT-26')")
    cli("dlq", "replay", first.id, "--edit", env={"EDITOR": still_unknown})
    second = open_entry(order["id"], replay_of=first.id)  # the replay failed: a new entry
    dead_letter_upkeep()

    assert get_dlq().get(first.id).status == "replayed"
    assert get_dlq().get(first.id).holds_data  # nothing went through yet
    assert EMAIL in get_dlq().redis.hget(get_settings().redis_key_prefix + "dlq:entries", first.id)

    fixed = editor_script(tmp_path, "text = text.replace('WEB-GIFT-26', 'AA-0001')")
    replayed = cli("dlq", "replay", second.id, "--edit", "--json", env={"EDITOR": fixed})
    wait_for(lambda: str(order["id"]) in linked("orders"), timeout=30)
    summary = dead_letter_upkeep()

    assert summary["replays_went_through"] == 2
    replay_task = replayed.json["replayed"][0]["task_id"]
    for entry_id in (first.id, second.id):
        entry = get_dlq().get(entry_id)
        assert entry.status == "replayed" and not entry.holds_data
        went = next(a for a in entry.audit if a["action"] == "replay went through")
        assert went["task_id"] == replay_task
    entries_key = get_settings().redis_key_prefix + "dlq:entries"
    assert entries_key not in redis_holding(EMAIL, STREET)
