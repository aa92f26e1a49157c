"""What the overview shows, read with queries that stay fast on a large ledger.

The ledger's ``sync_records`` has no index on ``synced_at``, so the 24-hour lag chart is one
aggregate query (one scan of the table): every record synced in the last 24 hours counted per
flow, hour and lag band (``LAG_BANDS``) in the database, a few hundred rows back; a percentile
of an hour is the upper edge of the band where it falls. A chart of hours needs no fresher
figures than a minute: each process keeps the last one (:func:`chart`), and a request that
finds it older than ``CHART_MAX_AGE_SECONDS`` shows it while a thread makes the next one. The headline p50/p95 are the exact ones ``sync-status`` and
``/metrics`` report (``status.lag_samples``, at most 5,000 records of the last
``METRICS_LAG_WINDOW_SECONDS``). Queue lengths, retries, last polls and the licence come from
Redis as ``sync-status`` reads them; open dead letters per flow from the grouping's index.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Engine,
    Float,
    Text,
    case,
    cast,
    extract,
    func,
    literal,
    literal_column,
    select,
)

from sync_workers.celery import FLOW_QUEUES, REALTIME_QUEUE
from sync_workers.console.grouping import Snapshot
from sync_workers.dlq_upkeep import EXPIRY_WARNING
from sync_workers.ledger.db import session_scope
from sync_workers.ledger.models import Cursor, Status, SyncRecord
from sync_workers.observability import ops_keys, status
from sync_workers.settings import Settings

log = logging.getLogger("sync_workers.console")

#: Upper edges (seconds) of the lag bands of the chart; the last band is open.
LAG_BANDS = (1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 3 * 3600, 12 * 3600, 86400)
HOURS = 24
CHART_MAX_AGE_SECONDS = 60.0
#: A poll not seen for this many intervals needs attention.
STALE_POLL_INTERVALS = 3


@dataclass
class HourLag:
    hour: datetime
    samples: int
    p50: float | None
    p95: float | None


@dataclass
class FlowFacts:
    flow: str
    last_poll: dict[str, Any] | None
    poll_interval: float
    last_push_at: str | None
    cursors: dict[str, dict[str, str | None]]
    lag_p50: float | None
    lag_p95: float | None
    lag_samples: int
    queued: int
    unsynced: int
    retries: int
    dead_letters: int
    hours: list[HourLag] = field(default_factory=list)

    @property
    def backlog(self) -> int:
        return self.queued + self.unsynced

    def poll_age(self, now: datetime) -> float | None:
        at = (self.last_poll or {}).get("at")
        if not at:
            return None
        return (now - datetime.fromisoformat(at)).total_seconds()


@dataclass
class Attention:
    level: str  # "alert" or "warn"
    text: str
    link: str | None = None


@dataclass
class Overview:
    at: datetime
    flows: list[FlowFacts]
    realtime_queued: int
    systems: list[status.SystemLimits]
    http_429: dict[str, int]
    dead_letters_open: int
    dead_letters_expiring: int
    attention: list[Attention]
    #: When the 24-hour chart was made.
    chart_at: datetime | None = None


def poll_interval(settings: Settings, flow: str) -> float:
    own = getattr(settings, f"{flow}_poll_interval_seconds", None)
    return float(own if own is not None else settings.poll_interval_seconds)


def _unix(column: Any, dialect: str) -> Any:
    if dialect == "sqlite":
        return (func.julianday(column) - 2440587.5) * 86400.0
    return cast(extract("epoch", column), Float)


def _hour(column: Any, dialect: str) -> Any:
    if dialect == "sqlite":
        return func.strftime("%Y-%m-%d %H", column)
    return func.to_char(func.timezone("UTC", column), literal("YYYY-MM-DD HH24", Text))


def lag_by_hour(engine: Engine, now: datetime) -> dict[str, list[HourLag]]:
    """Per flow, the 24 hours up to ``now``: records synced and their lag p50/p95 (band edges)."""
    dialect = engine.dialect.name
    since = now - timedelta(hours=HOURS)
    # Each record's hour and lag computed once (a materialized CTE), then banded: banding the
    # expression itself would compute it again for every band it is compared with.
    lags = (
        select(
            SyncRecord.flow.label("flow"),
            _hour(SyncRecord.synced_at, dialect).label("hour"),
            (
                _unix(SyncRecord.synced_at, dialect) - _unix(SyncRecord.source_updated_at, dialect)
            ).label("lag"),
        )
        .where(SyncRecord.synced_at >= since, SyncRecord.source_updated_at.is_not(None))
        .cte("lags")
        .prefix_with("MATERIALIZED")
    )
    band = case(
        *((lags.c.lag <= edge, index) for index, edge in enumerate(LAG_BANDS)),
        else_=len(LAG_BANDS),
    )
    query = select(lags.c.flow, lags.c.hour, band.label("band"), func.count()).group_by(
        *(literal_column(str(n)) for n in (1, 2, 3))  # PostgreSQL: by position
    )
    counts: dict[tuple[str, str], dict[int, int]] = {}
    with session_scope(engine) as session:
        for flow, hour_text, band_index, n in session.execute(query):
            counts.setdefault((flow, hour_text), {})[int(band_index)] = int(n)
    start = since.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    out: dict[str, list[HourLag]] = {}
    for flow in FLOW_QUEUES:
        hours = []
        for step in range(HOURS):
            moment = start + timedelta(hours=step)
            bands = counts.get((flow, moment.strftime("%Y-%m-%d %H")), {})
            total = sum(bands.values())
            hours.append(
                HourLag(
                    moment, total, _band_edge(bands, total, 0.5), _band_edge(bands, total, 0.95)
                )
            )
        out[flow] = hours
    return out


@dataclass
class Chart:
    """The 24-hour chart of one ledger, as made at ``made_at``."""

    made_at: datetime
    made: float  # time.monotonic() when made
    hours: dict[str, list[HourLag]]


_charts: dict[str, Chart] = {}
_refreshing: set[str] = set()
_charts_lock = threading.Lock()


def chart(engine: Engine) -> Chart:
    """The last 24-hour chart of this ledger made in this process: made now when there is none,
    else the one held, with a new one made in a thread when it is older than
    ``CHART_MAX_AGE_SECONDS``."""
    key = engine.url.render_as_string(hide_password=True)
    with _charts_lock:
        held = _charts.get(key)
        refresh = (
            held is not None
            and time.monotonic() - held.made > CHART_MAX_AGE_SECONDS
            and key not in _refreshing
        )
        if refresh:
            _refreshing.add(key)
    if held is None:
        return _make_chart(engine, key)
    if refresh:
        threading.Thread(target=_refresh_chart, args=(engine, key), daemon=True).start()
    return held


def _make_chart(engine: Engine, key: str) -> Chart:
    now = datetime.now(UTC)
    made = Chart(now, time.monotonic(), lag_by_hour(engine, now))
    with _charts_lock:
        _charts[key] = made
    return made


def _refresh_chart(engine: Engine, key: str) -> None:
    try:
        _make_chart(engine, key)
    except Exception as exc:  # the page keeps the chart it has; the next request tries again
        log.warning("console: the 24-hour chart was not refreshed: %s", type(exc).__name__)
    finally:
        with _charts_lock:
            _refreshing.discard(key)


def _band_edge(bands: dict[int, int], total: int, q: float) -> float | None:
    if not total:
        return None
    seen = 0
    for index in sorted(bands):
        seen += bands[index]
        if seen >= q * total:
            return float(LAG_BANDS[index]) if index < len(LAG_BANDS) else float(LAG_BANDS[-1] * 2)
    return None


def _ledger(engine: Engine) -> tuple[dict[str, dict[str, dict[str, str | None]]], dict[str, int]]:
    cursors: dict[str, dict[str, dict[str, str | None]]] = {}
    with session_scope(engine) as session:
        for row in session.scalars(select(Cursor)):
            updated = row.updated_at
            if updated is not None and updated.tzinfo is None:
                updated = updated.replace(tzinfo=UTC)
            cursors.setdefault(row.flow, {})[row.direction] = {
                "value": row.value,
                "updated_at": updated.isoformat(timespec="seconds") if updated else None,
            }
        unsynced = {
            flow: int(n)
            for flow, n in session.execute(
                select(SyncRecord.flow, func.count())
                .where(SyncRecord.status == Status.PENDING.value)
                .group_by(SyncRecord.flow)
            )
        }
    return cursors, unsynced


def collect(settings: Settings, client: Any, engine: Engine, snapshot: Snapshot) -> Overview:
    now = datetime.now(UTC)
    prefix = settings.redis_key_prefix
    cursors, unsynced = _ledger(engine)
    held = chart(engine)
    lags = status.lag_samples(engine, settings.metrics_lag_window_seconds)
    runs = ops_keys.last_runs(client, prefix)
    pushes = ops_keys.last_pushes(client, prefix)
    retries = ops_keys.counts(client, prefix, "retries")
    dead = snapshot.per_flow()
    flows = [
        FlowFacts(
            flow=flow,
            last_poll=runs.get(flow),
            poll_interval=poll_interval(settings, flow),
            last_push_at=pushes.get(flow),
            cursors=cursors.get(flow, {}),
            lag_p50=status.percentile(lags.get(flow, []), 50),
            lag_p95=status.percentile(lags.get(flow, []), 95),
            lag_samples=len(lags.get(flow, [])),
            queued=status.queue_length(client, prefix, flow),
            unsynced=unsynced.get(flow, 0),
            retries=retries.get(flow, 0),
            dead_letters=dead.get(flow, 0),
            hours=held.hours[flow],
        )
        for flow in FLOW_QUEUES
    ]
    systems = [status.acumatica_limits(settings, client), status.xcart_limits(settings, client)]
    http_429 = ops_keys.counts(client, prefix, "http_429")
    retention = timedelta(days=settings.dlq_retention_days)
    cutoff = (now - retention + EXPIRY_WARNING).timestamp()
    expiring = sum(1 for g in snapshot.groups for _, score in g.members if score < cutoff)
    overview = Overview(
        at=now,
        flows=flows,
        realtime_queued=status.queue_length(client, prefix, REALTIME_QUEUE),
        systems=systems,
        http_429=http_429,
        dead_letters_open=sum(dead.values()),
        dead_letters_expiring=expiring,
        attention=[],
        chart_at=held.made_at,
    )
    overview.attention = attention(overview, snapshot)
    return overview


def attention(overview: Overview, snapshot: Snapshot) -> list[Attention]:
    """What needs a person first, most urgent first."""
    items: list[Attention] = []
    for system in overview.systems:
        if system.cooling_down_seconds > 0:
            items.append(
                Attention(
                    "alert",
                    f"{system.system}: paused {system.cooling_down_seconds:.0f}s after a 429 "
                    "(rate limit): the fleet backs off by itself; persistent pauses mean another "
                    "integration shares the licence",
                )
            )
        if system.max_sessions and (system.sessions_in_use or 0) >= system.max_sessions:
            items.append(
                Attention(
                    "warn",
                    f"{system.system}: all {system.max_sessions} API sessions in use",
                )
            )
    for group in snapshot.groups[:3]:
        items.append(
            Attention(
                "alert",
                f"{group.count} dead letter(s) in {group.flow}/{group.step}: "
                f"{group.error_class}: {group.pattern}",
                f"/dead-letters/group/{group.key}",
            )
        )
    if overview.dead_letters_expiring:
        items.append(
            Attention(
                "warn",
                f"{overview.dead_letters_expiring} open dead letter(s) lose their payload to the "
                "retention within 7 days",
                "/dead-letters",
            )
        )
    for flow in overview.flows:
        age = flow.poll_age(overview.at)
        if age is not None and age > STALE_POLL_INTERVALS * flow.poll_interval:
            items.append(
                Attention(
                    "warn",
                    f"{flow.flow}: last poll {age / 60:.0f} min ago (interval "
                    f"{flow.poll_interval:g}s): is beat running?",
                )
            )
        state = (flow.last_poll or {}).get("state")
        if state and state not in ("SUCCESS",):
            items.append(Attention("warn", f"{flow.flow}: last poll ended {state}"))
    return items
