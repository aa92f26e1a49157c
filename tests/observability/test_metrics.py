"""/metrics and the status facts: lag quantiles, backlog, dead letters, retries, API use."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from prometheus_client.parser import text_string_to_metric_families

from sync_workers import clients
from sync_workers.celery import app as celery_app
from sync_workers.ledger.db import session_scope
from sync_workers.ledger.models import Status, SyncRecord
from sync_workers.settings import get_settings
from sync_workers.webhooks import create_app
from tests.foundation import sample_tasks
from tests.observability import sentry_tasks


def scrape() -> dict[tuple[str, tuple], float]:
    answer = create_app(get_settings()).test_client().get("/metrics")
    assert answer.status_code == 200, answer.get_data(as_text=True)
    values = {}
    for family in text_string_to_metric_families(answer.get_data(as_text=True)):
        for sample in family.samples:
            values[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return values


def add_records(flow: str, lags: list[float], *, synced_ago: float = 10, status="synced") -> None:
    now = datetime.now(UTC)
    with session_scope() as session:
        for n, lag in enumerate(lags):
            synced = now - timedelta(seconds=synced_ago)
            session.add(
                SyncRecord(
                    flow=flow,
                    direction="xcart_to_acumatica",
                    source_id=f"{flow}-{status}-{synced_ago}-{n}",
                    status=status,
                    source_updated_at=synced - timedelta(seconds=lag),
                    synced_at=synced if status == Status.SYNCED.value else None,
                )
            )


def test_lag_quantiles_come_from_recently_synced_records(clean_ledger, redis_client) -> None:
    add_records("orders", [float(n) for n in range(1, 101)])
    add_records("orders", [5000.0] * 50, synced_ago=7200)  # outside the one-hour window

    values = scrape()

    assert values[("sync_lag_seconds", (("flow", "orders"), ("quantile", "0.5")))] == 50
    assert values[("sync_lag_seconds", (("flow", "orders"), ("quantile", "0.95")))] == 95
    assert values[("sync_lag_samples", (("flow", "orders"),))] == 100
    assert ("sync_lag_seconds", (("flow", "products"), ("quantile", "0.5"))) not in values


def test_backlog_counts_queued_messages_and_unsynced_records(clean_ledger, redis_client) -> None:
    for n in range(3):
        celery_app.send_task("tasks.products.poll", kwargs={"ids": [str(n)]})
    add_records("products", [1.0, 2.0], status=Status.PENDING.value)

    values = scrape()

    assert values[("sync_queue_length", (("queue", "products"),))] == 3
    assert values[("sync_backlog", (("flow", "products"),))] == 5
    assert values[("sync_backlog", (("flow", "orders"),))] == 0


def test_retries_and_dead_letters_are_counted_per_flow(
    clean_ledger, redis_client, celery_worker
) -> None:
    sample_tasks.always_transient.apply_async(kwargs={"record_id": "metrics-1"})

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        values = scrape()
        if values[("sync_dead_letters_open", (("flow", "orders"),))] == 1:
            break
        time.sleep(0.2)

    assert values[("sync_dead_letters_open", (("flow", "orders"),))] == 1
    assert values[("sync_retries_total", (("flow", "orders"),))] == 3  # RETRY_MAX in tests


def test_api_requests_and_acumatica_sessions_are_visible(
    clean_ledger, sandboxes, redis_client
) -> None:
    before = scrape()
    erp = clients.acumatica()
    for _ in range(3):
        erp.get_list("StockItem", top=1)
    clients.xcart().get("/api/products", {"itemsPerPage": 1})

    during = scrape()
    clients.close_all()
    after = scrape()

    rate = "sync_api_requests_per_minute"
    assert before[(rate, (("system", "acumatica"),))] == 0
    assert during[(rate, (("system", "acumatica"),))] >= 3
    assert during[(rate, (("system", "xcart"),))] >= 1
    assert during[("sync_acumatica_sessions_in_use", ())] == 1
    assert after[("sync_acumatica_sessions_in_use", ())] == 0


def test_metrics_answer_503_when_the_ledger_is_unreachable(redis_client) -> None:
    import os

    from sync_workers.settings import load_settings

    settings = load_settings({**os.environ, "DATABASE_URL": "sqlite:////nonexistent/dir/x.db"})
    answer = create_app(settings).test_client().get("/metrics")

    assert answer.status_code == 503
    assert "metrics unavailable" in answer.json["error"]


def test_429_answers_that_make_a_step_retry_are_counted_per_system(
    clean_ledger, sandboxes, redis_client, celery_worker
) -> None:
    import requests

    erp = sandboxes["acumatica"].url
    requests.post(
        f"{erp}/_sandbox/faults", json={"rules": [{"path": "StockItem", "p429": 1.0}]}, timeout=10
    ).raise_for_status()
    sentry_tasks.read_stock_item.apply_async(kwargs={"record_id": "sku-429"})

    deadline = time.monotonic() + 30
    key = ("sync_api_429_retries_total", (("system", "acumatica"),))
    while time.monotonic() < deadline and scrape().get(key, 0) < 2:
        time.sleep(0.2)
    requests.post(f"{erp}/_sandbox/faults", json={"rules": []}, timeout=10)

    assert scrape()[key] >= 2
    assert scrape()[("sync_retries_total", (("flow", "inventory"),))] >= 2
