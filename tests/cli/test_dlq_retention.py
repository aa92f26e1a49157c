"""Dead letters hold customer data only while it is needed: dropped on resolve, after
``DLQ_RETENTION_DAYS`` (audited, by the beat task), and ``sync-status`` warns a week ahead."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sync_workers import dlq_upkeep
from sync_workers.celery import publish
from sync_workers.dlq import DeadLetter
from sync_workers.settings import get_settings
from sync_workers.task import get_dlq
from tasks.maintenance import dead_letter_upkeep
from tests.cli.conftest import queued

EMAIL = "marta.kowalska@example.org"
STREET = "17 Lindenweg"
CITY = "Bad Kissingen"
PERSONAL = (EMAIL, STREET, CITY)


def _ago(days: float) -> str:
    return (datetime.now(UTC) - timedelta(days=days)).isoformat(timespec="milliseconds")


def personal_entry(
    record_id: str = "501", *, flow: str = "orders", days_ago: float = 0
) -> DeadLetter:
    """A dead letter as an order that Acumatica refused leaves it: the order in the arguments
    and the payload, the shopper echoed in the error, the upstream answer in the details."""
    order = {
        "id": int(record_id),
        "email": EMAIL,
        "billing_address": {
            "firstname": "Marta",
            "street": STREET,
            "city": CITY,
            "zipcode": "97688",
        },
        "items": [{"sku": "WEB-GIFT-25", "amount": 1}],
    }
    entry = DeadLetter(
        flow=flow,
        record_id=record_id,
        task=f"tasks.{flow}.sync",
        step="push",
        task_id=f"task-{flow}-{record_id}",
        args=[],
        kwargs={"record_id": record_id, "order": order},
        error_class="PermanentError",
        error_message=f"Customer {EMAIL} at {STREET}, {CITY}: TaxZone 'EU-DE' cannot be found",
        traceback=f"Traceback (most recent call last):\nPermanentError: {EMAIL}\n",
        field_errors={"billing_address.street": f"'{STREET}' is longer than 10 characters"},
        error_details={"status": 422, "body": json.dumps({"Email": EMAIL, "AddressLine1": STREET})},
        payload={"args": [], "kwargs": {"record_id": record_id, "order": order}},
        last_failed_at=_ago(days_ago),
        first_failed_at=_ago(days_ago),
    )
    assert get_dlq().add(entry)
    return entry


def stored_text(entry_id: str) -> str:
    """The entry exactly as Redis holds it."""
    dlq = get_dlq()
    return dlq.redis.hget(dlq.prefix + "dlq:entries", entry_id) or ""


def test_resolve_drops_the_data_and_keeps_what_failed_with_personal_values_masked(cli) -> None:
    entry = personal_entry()
    assert all(value in stored_text(entry.id) for value in PERSONAL)

    result = cli("dlq", "resolve", entry.id, "--by", "kim", "--note", "fixed in Acumatica")

    assert result.exit_code == 0, result.stderr
    text = stored_text(entry.id)
    assert [value for value in PERSONAL if value in text] == []
    resolved = get_dlq().get(entry.id)
    assert resolved.status == "resolved" and resolved.data_dropped_at is not None
    assert (resolved.args, resolved.kwargs, resolved.payload) == ([], {}, None)
    assert (resolved.error_details, resolved.traceback, resolved.chain) == ({}, "", [])
    assert (resolved.record_id, resolved.task, resolved.step, resolved.error_class) == (
        "501",
        "tasks.orders.sync",
        "push",
        "PermanentError",
    )
    assert "TaxZone 'EU-DE' cannot be found" in resolved.error_message
    assert list(resolved.field_errors) == ["billing_address.street"]
    assert [a["action"] for a in resolved.audit] == ["dead-lettered", "resolved", "data dropped"]
    assert resolved.audit[1]["note"] == "fixed in Acumatica"
    shown = cli("dlq", "show", entry.id)
    assert "arguments, payload and upstream answers dropped" in shown.output
    assert [value for value in PERSONAL if value in shown.output + shown.stderr] == []


def test_open_entries_expire_after_the_retention_audited_and_sync_status_warns_a_week_ahead(
    cli, clean_ledger
) -> None:
    assert get_settings().dlq_retention_days == 30
    overdue = personal_entry("601", days_ago=31)
    soon = personal_entry("602", days_ago=25)
    fresh = personal_entry("603", days_ago=1)
    replayed_overdue = personal_entry("604", flow="payments", days_ago=30.5)
    get_dlq().replay(replayed_overdue.id, publish, by="kim")

    before = cli("sync-status", "--json").json
    warned = cli("sync-status").output

    assert before["dead_letters_expiring"] == 3
    first = datetime.fromisoformat(before["dead_letters_first_expiry"])
    assert abs(first - (datetime.now(UTC) - timedelta(days=1))) < timedelta(minutes=1)
    assert "warning: 3 dead letters lose their payload and arguments within 7 days" in warned

    summary = dead_letter_upkeep()

    assert summary == {"replays_went_through": 0, "expired": 2, "deleted": 0}
    dlq = get_dlq()
    expired = dlq.get(overdue.id)
    assert expired.status == "expired" and not expired.holds_data
    assert [a["action"] for a in expired.audit][-2:] == ["expired", "data dropped"]
    assert [value for value in PERSONAL if value in stored_text(overdue.id)] == []
    replayed = dlq.get(replayed_overdue.id)
    assert replayed.status == "replayed" and not replayed.holds_data
    for kept in (soon, fresh):
        assert dlq.get(kept.id).holds_data and EMAIL in stored_text(kept.id)
    assert sorted(e.id for e in dlq.iter_entries(status="open")) == sorted([soon.id, fresh.id])
    assert {"action": "expired", "by": "engine", "entry": overdue.id}.items() <= next(
        a for a in dlq.audit_log() if a["entry"] == overdue.id and a["action"] == "expired"
    ).items()

    after = cli("sync-status", "--json").json
    listed = cli("dlq", "list", "--status", "all", "--expiring", "--json").json
    assert after["dead_letters_expiring"] == 1
    assert [e["id"] for e in listed] == [soon.id]
    assert listed[0]["expires_at"].startswith(
        (datetime.fromisoformat(soon.last_failed_at) + timedelta(days=30)).isoformat()[:16]
    )
    assert cli("dlq", "list", "--status", "expired", "--json").json[0]["id"] == overdue.id


def test_an_expired_entry_is_replayed_from_the_start_only(cli, redis_client) -> None:
    entry = personal_entry("701", days_ago=40)
    dead_letter_upkeep()

    refused = cli("dlq", "replay", entry.id)
    rerun = cli("dlq", "replay", entry.id, "--from-start", "--json")

    assert refused.exit_code == 1
    assert "replay it from the start" in refused.stderr
    assert rerun.exit_code == 0, rerun.stderr
    assert [(m["task"], m["kwargs"]) for m in queued(redis_client, "orders")] == [
        ("tasks.orders.poll", {"ids": ["701"]})
    ]


def test_an_entry_without_data_is_deleted_a_retention_after_it_was_dropped(cli) -> None:
    entry = personal_entry("801", days_ago=45)
    cli("dlq", "resolve", entry.id)
    retention = timedelta(days=30)
    dlq = get_dlq()

    kept = dlq_upkeep.upkeep(dlq, retention, now=datetime.now(UTC) + timedelta(days=29))
    gone = dlq_upkeep.upkeep(dlq, retention, now=datetime.now(UTC) + timedelta(days=31))

    assert (kept["deleted"], gone["deleted"]) == (0, 1)
    assert dlq.count(status="all") == 0
    assert dlq.audit_log(1)[0] | {"at": None} == {
        "at": None,
        "action": "deleted",
        "entry": entry.id,
        "flow": "orders",
        "record_id": "801",
        "by": "engine",
        "status": "resolved",
    }
