"""Every console action lands in the engine's one audit, with the user who took it."""

from __future__ import annotations

import time

from sync_workers.console.grouping import Grouping
from sync_workers.task import get_dlq
from tests.cli.conftest import queued, run_cli
from tests.console.conftest import OPERATOR, add_entry, add_record, sign_in


def test_resolving_a_group_resolves_each_entry_seen_and_audits_it_by_user(client) -> None:
    first, second = add_entry("101"), add_entry("102")
    csrf = sign_in(client, OPERATOR)
    [group] = Grouping(get_dlq()).snapshot().groups
    assert group.count == 2
    time.sleep(0.01)
    late = add_entry("103")  # fails after the page was shown: not part of the action

    answer = client.post(
        f"/dead-letters/group/{group.key}/resolve",
        data={"csrf_token": csrf, "as_of": repr(group.last_seen), "note": "fixed in Acumatica"},
    )

    assert answer.status_code == 302
    assert get_dlq().get(first.id).status == "resolved"
    assert get_dlq().get(second.id).status == "resolved"
    assert get_dlq().get(late.id).status == "open"
    audit = run_cli("dlq", "audit", "--json").json
    resolved = [r for r in audit if r["action"] == "resolved"]
    assert {r["entry"] for r in resolved} == {first.id, second.id}
    assert all(
        r["by"] == f"console:{OPERATOR}" and r["note"] == "fixed in Acumatica" for r in resolved
    )


def test_replaying_a_group_publishes_each_step_again_and_audits_it(client, redis_client) -> None:
    entry = add_entry("201")
    csrf = sign_in(client, OPERATOR)
    [group] = Grouping(get_dlq()).snapshot().groups

    client.post(
        f"/dead-letters/group/{group.key}/replay",
        data={"csrf_token": csrf, "as_of": repr(group.last_seen)},
    )

    replayed = get_dlq().get(entry.id)
    assert replayed.status == "replayed" and replayed.replays[0]["by"] == f"console:{OPERATOR}"
    [message] = queued(redis_client, "orders")
    assert message["task"] == "tasks.orders.sync" and message["kwargs"]["record_id"] == "201"


def test_a_resync_from_a_records_page_is_published_and_audited(
    client, clean_ledger, redis_client
) -> None:
    add_record(clean_ledger, source_id="42", data={"order_number": "1042"})
    csrf = sign_in(client, OPERATOR)

    answer = client.post("/records/orders/42/resync", data={"csrf_token": csrf})

    assert answer.status_code == 302
    [message] = queued(redis_client, "orders")
    assert message["task"] == "tasks.orders.poll" and message["kwargs"] == {"ids": ["42"]}
    [record] = [r for r in get_dlq().audit_log() if r["action"] == "resync"]
    assert record["by"] == f"console:{OPERATOR}" and record["flow"] == "orders"
    assert record["record_id"] == "42" and record["task"] == "tasks.orders.poll"
    page = client.get("/dead-letters/audit", headers={"Accept": "text/html"})
    assert "resync" in page.text and f"console:{OPERATOR}" in page.text


def test_a_payments_resync_goes_through_its_orders_poll(client, clean_ledger, redis_client) -> None:
    add_record(clean_ledger, "payments", "7001", data={"order_id": "42"}, target_key="PMT/1")
    csrf = sign_in(client, OPERATOR)

    client.post("/records/payments/7001/resync", data={"csrf_token": csrf})

    [message] = queued(redis_client, "payments")
    assert message["task"] == "tasks.payments.poll" and message["kwargs"] == {"ids": ["42"]}
