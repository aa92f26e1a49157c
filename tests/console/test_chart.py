"""The overview's 24-hour lag chart: counted in the database per hour and lag band, on SQLite
and PostgreSQL, and kept for a minute by each console process."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert

from sync_workers.console import facts
from sync_workers.ledger.db import make_engine
from sync_workers.ledger.models import SyncRecord


def _synced(engine, flow: str, source_id: str, synced: datetime, lag: float) -> None:
    with engine.begin() as connection:
        connection.execute(
            insert(SyncRecord.__table__),
            [
                {
                    "flow": flow,
                    "direction": "xcart_to_acumatica",
                    "source_id": source_id,
                    "target_key": "SO/" + source_id,
                    "status": "synced",
                    "data": {},
                    "source_updated_at": synced - timedelta(seconds=lag),
                    "created_at": synced,
                    "updated_at": synced,
                    "synced_at": synced,
                    "followup_due": False,
                }
            ],
        )


def test_each_hour_counts_its_records_and_its_percentiles_fall_on_band_edges(ledger_url) -> None:
    engine = make_engine(ledger_url)
    now = datetime.now(UTC)
    two_hours_ago = (now - timedelta(hours=2)).replace(minute=30, second=0, microsecond=0)
    for n in range(10):
        _synced(engine, "orders", str(n), two_hours_ago, lag=3.5)  # band up to 5 s
    _synced(engine, "orders", "slow", two_hours_ago, lag=100)  # band up to 120 s
    _synced(engine, "customers", "old", now - timedelta(hours=30), lag=1)  # before the chart

    hours = facts.lag_by_hour(engine, now)
    engine.dispose()

    [busy] = [h for h in hours["orders"] if h.samples]
    assert busy.hour == two_hours_ago.replace(minute=0)
    assert (busy.samples, busy.p50, busy.p95) == (11, 5.0, 120.0)
    assert len(hours["orders"]) == facts.HOURS
    assert not any(h.samples for h in hours["customers"])


def test_a_chart_older_than_its_age_is_shown_while_the_next_is_made(
    clean_ledger, monkeypatch
) -> None:
    monkeypatch.setattr(facts, "_charts", {})
    now = datetime.now(UTC)
    first = facts.chart(clean_ledger)
    _synced(clean_ledger, "orders", "1", now, lag=2)
    assert facts.chart(clean_ledger) is first  # a minute old at most: kept

    monkeypatch.setattr(facts, "CHART_MAX_AGE_SECONDS", 0.0)
    assert facts.chart(clean_ledger) is first  # shown once more, while the next one is made
    deadline = time.monotonic() + 10
    while (latest := facts.chart(clean_ledger)) is first:
        assert time.monotonic() < deadline, "the chart was never made again"
        time.sleep(0.05)

    assert sum(h.samples for h in latest.hours["orders"]) == 1
    assert not any(h.samples for h in first.hours["orders"])
