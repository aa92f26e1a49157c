"""``sync-status``: per-flow facts from Redis and the ledger, and exit 1 on open dead letters."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import requests

from sandboxes.common.server import serve_in_thread
from sync_workers.celery import app as celery_app
from sync_workers.ledger.db import session_scope
from sync_workers.ledger.models import SyncRecord
from sync_workers.ledger.repository import CursorStore
from sync_workers.webhooks import create_app
from tests.cli import cli_tasks
from tests.cli.test_dlq import add_entry
from tests.webhooks.conftest import PUSH_SECRET, receiver_settings
from tests.webhooks.test_acumatica_push import notification


def test_status_reports_cursor_lag_backlog_and_dead_letters_per_flow(cli, clean_ledger) -> None:
    now = datetime.now(UTC)
    with session_scope() as session:
        for n, lag in enumerate((4.0, 6.0)):
            session.add(
                SyncRecord(
                    flow="orders",
                    direction="xcart_to_acumatica",
                    source_id=str(n),
                    status="synced",
                    source_updated_at=now - timedelta(seconds=lag + 1),
                    synced_at=now - timedelta(seconds=1),
                )
            )
    CursorStore().set("orders", "xcart_to_acumatica", "2026-11-27T05:00:00+00:00")
    celery_app.send_task("tasks.shipments.poll")
    add_entry("payments", "77")

    result = cli("sync-status", "--json")

    assert result.exit_code == 1  # an open dead letter needs attention
    flows = {f["flow"]: f for f in result.json["flows"]}
    assert flows["orders"]["cursors"]["xcart_to_acumatica"]["value"] == "2026-11-27T05:00:00+00:00"
    assert flows["orders"]["lag_p50_seconds"] == 4.0
    assert flows["orders"]["lag_p95_seconds"] == 6.0
    assert flows["shipments"]["queued"] == 1 and flows["shipments"]["backlog"] == 1
    assert flows["payments"]["dead_letters"] == 1
    acumatica = next(s for s in result.json["systems"] if s["system"] == "acumatica")
    assert acumatica["sessions_in_use"] == 0
    assert acumatica["requests_per_minute"] == 100000  # the test settings' licence cap


def test_status_is_a_table_for_people_and_exits_0_when_all_is_well(cli, clean_ledger) -> None:
    result = cli("sync-status")

    assert result.exit_code == 0
    assert result.output.splitlines()[0].split()[:3] == ["FLOW", "LAST", "POLL"]
    assert "acumatica:" in result.output and "sessions 0/1" in result.output
    assert "dead letters open: 0" in result.output


def test_status_shows_the_last_poll_recorded_by_a_worker(cli, clean_ledger, celery_worker) -> None:
    import time

    cli_tasks.poll.delay()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        flows = {f["flow"]: f for f in cli("sync-status", "--json").json["flows"]}
        if flows["customers"]["last_run"]:
            break
        time.sleep(0.1)

    assert flows["customers"]["last_run"]["state"] == "SUCCESS"


def test_status_says_per_flow_whether_push_notifications_arrive(cli, clean_ledger) -> None:
    receiver = serve_in_thread(create_app(receiver_settings()))
    try:
        answer = requests.post(
            f"http://127.0.0.1:{receiver.port}/webhooks/acumatica/shipments",
            json=notification(),
            headers={"X-Sync-Secret": PUSH_SECRET},
            timeout=10,
        )
    finally:
        receiver.stop()
    assert answer.status_code == 202

    flows = {f["flow"]: f for f in cli("sync-status", "--json").json["flows"]}
    table = cli("sync-status").output.splitlines()

    arrived = datetime.fromisoformat(flows["shipments"]["last_push_at"])
    assert timedelta(0) <= datetime.now(UTC) - arrived < timedelta(seconds=30)
    assert all(flows[f]["last_push_at"] is None for f in flows if f != "shipments")
    assert table[0].split()[:5] == ["FLOW", "LAST", "POLL", "LAST", "PUSH"]
    rows = {line.split()[0]: line for line in table[1:] if line.strip()}
    assert re.match(r"shipments\s+never\s+\d+s ago\s", rows["shipments"]), rows["shipments"]
    assert re.match(r"orders\s+never\s+none\s", rows["orders"]), rows["orders"]


def test_progress_bar_only_on_a_terminal(monkeypatch, capsys) -> None:
    from sync_workers.cli import output

    monkeypatch.setattr(output, "on_terminal", lambda: False)
    with output.progress([1, 2], label="reconciling") as items:
        assert list(items) == [1, 2]
    assert "reconciling" not in capsys.readouterr().err

    monkeypatch.setattr(output, "on_terminal", lambda: True)
    with output.progress([1, 2], label="reconciling") as items:
        assert list(items) == [1, 2]
    assert "reconciling" in capsys.readouterr().err

    with output.progress([1, 2], label="reconciling", enabled=False) as items:
        assert list(items) == [1, 2]
    assert "reconciling" not in capsys.readouterr().err


def test_status_table_carries_no_terminal_control_characters(cli, clean_ledger) -> None:
    from tests.cli.test_dlq import HOSTILE, terminal_controls

    # PostgreSQL's text cannot hold a NUL: there the cursor carries every other control character
    planted = HOSTILE.replace("\x00", "") if clean_ledger.dialect.name == "postgresql" else HOSTILE
    CursorStore().set("orders", "xcart_to_acumatica", f"2026-11-27{planted}T05:00:00+00:00")

    result = cli("sync-status")

    assert result.exit_code == 0
    assert terminal_controls(result.output) == []
    assert "xcart_to_acumatica=2026-11-27T05:00:00+00:00" in result.output
