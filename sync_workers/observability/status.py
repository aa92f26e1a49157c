"""What the engine is doing right now, read without touching either remote system.

Per flow: the last poll and its cursors, when the receiver last accepted an Acumatica push
notification, the lag from source change to target write (p50/p95 over a recent window), the
backlog (messages waiting on its queue plus ledger records not yet synced) and open dead letters;
the dead letters that lose their data to ``DLQ_RETENTION_DAYS`` within a week.
For Acumatica: sessions in use, requests in the current rate window against the licence, and
the requests sent so far through the contract API and through OData, apart.
``status`` and ``/metrics`` both read this.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import redis
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from sync_workers.celery import FLOW_QUEUES, REALTIME_QUEUE, on_rabbitmq, rabbitmq_backlog
from sync_workers.connectors.limits import SharedLimits
from sync_workers.dlq import DeadLetterQueue
from sync_workers.dlq_upkeep import EXPIRY_WARNING, expires_at, expiring
from sync_workers.ledger.db import session_scope
from sync_workers.ledger.models import Cursor, Status, SyncRecord
from sync_workers.observability import ops_keys
from sync_workers.settings import Settings, get_settings

#: kombu's Redis transport keeps priorities 3, 6 and 9 in sub-lists named queue + SEP + n.
PRIORITY_SEP = "\x06\x16"
PRIORITY_STEPS = (0, 3, 6, 9)
WAITING = (Status.PENDING.value,)
LAG_SAMPLE = 5000


@dataclass
class FlowStatus:
    flow: str
    last_run: dict[str, Any] | None
    last_push_at: str | None
    cursors: dict[str, dict[str, str | None]]
    last_synced_at: str | None
    lag_p50_seconds: float | None
    lag_p95_seconds: float | None
    lag_samples: int
    queued: int
    unsynced: int
    dead_letters: int
    retries: int

    @property
    def backlog(self) -> int:
        return self.queued + self.unsynced


@dataclass
class SystemLimits:
    system: str
    requests_in_window: int | None
    requests_per_minute: int | None
    in_flight: int
    max_concurrent: int | None
    cooling_down_seconds: float
    sessions_in_use: int | None = None
    max_sessions: int | None = None
    #: Requests sent so far, by interface (Acumatica: ``contract`` and ``odata``).
    requests_by_interface: dict[str, int] | None = None


@dataclass
class EngineStatus:
    at: str
    flows: list[FlowStatus]
    realtime_queued: int
    dead_letters_open: int
    systems: list[SystemLimits] = field(default_factory=list)
    http_429: dict[str, int] = field(default_factory=dict)
    #: Dead letters (open, or replayed and not gone through yet) that lose their payload and
    #: arguments to the retention within ``EXPIRY_WARNING``, and when the first one does.
    dead_letters_expiring: int = 0
    dead_letters_first_expiry: str | None = None
    dead_letters_retention_days: int = 0

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for flow, data in zip(self.flows, out["flows"], strict=True):
            data["backlog"] = flow.backlog
        return out


def queue_length(client: redis.Redis, prefix: str, queue: str) -> int:
    """Messages waiting in the Celery queue ``queue``, on whichever broker ``BROKER_URL`` names
    (on Redis, its priority lists under ``prefix`` added up)."""
    if on_rabbitmq(get_settings().broker_url.reveal()):
        return rabbitmq_backlog(queue)
    names = [queue if p == 0 else f"{queue}{PRIORITY_SEP}{p}" for p in PRIORITY_STEPS]
    pipe = client.pipeline(transaction=False)
    for name in names:
        pipe.llen(prefix + name)
    return sum(int(n) for n in pipe.execute())


def _aware(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(q / 100 * len(ordered))))
    return ordered[rank - 1]


def lag_samples(engine: Engine, window_seconds: int) -> dict[str, list[float]]:
    """Seconds from source change to target write of records synced within the window."""
    since = datetime.now(UTC) - timedelta(seconds=window_seconds)
    out: dict[str, list[float]] = {flow: [] for flow in FLOW_QUEUES}
    with session_scope(engine) as session:
        rows = session.execute(
            select(SyncRecord.flow, SyncRecord.source_updated_at, SyncRecord.synced_at)
            .where(SyncRecord.synced_at >= since, SyncRecord.source_updated_at.is_not(None))
            .order_by(SyncRecord.synced_at.desc())
            .limit(LAG_SAMPLE)
        ).all()
    for flow, source_at, synced_at in rows:
        lag = (_aware(synced_at) - _aware(source_at)).total_seconds()  # type: ignore[operator]
        out.setdefault(flow, []).append(max(0.0, lag))
    return out


def _ledger_facts(engine: Engine) -> tuple[dict, dict, dict]:
    with session_scope(engine) as session:
        cursors: dict[str, dict[str, dict[str, str | None]]] = {}
        for row in session.scalars(select(Cursor)):
            cursors.setdefault(row.flow, {})[row.direction] = {
                "value": row.value,
                "updated_at": _iso(_aware(row.updated_at)),
            }
        unsynced = dict(
            session.execute(
                select(SyncRecord.flow, func.count())
                .where(SyncRecord.status.in_(WAITING))
                .group_by(SyncRecord.flow)
            ).all()
        )
        last_synced = dict(
            session.execute(
                select(SyncRecord.flow, func.max(SyncRecord.synced_at)).group_by(SyncRecord.flow)
            ).all()
        )
    return cursors, unsynced, last_synced


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat(timespec="seconds") if moment else None


def collect_status(settings: Settings, client: redis.Redis, engine: Engine) -> EngineStatus:
    prefix = settings.redis_key_prefix
    cursors, unsynced, last_synced = _ledger_facts(engine)
    lags = lag_samples(engine, settings.metrics_lag_window_seconds)
    dlq = DeadLetterQueue(client, prefix)
    dead = Counter(entry.flow for entry in dlq.iter_entries(status="open"))
    retention = timedelta(days=settings.dlq_retention_days)
    soon = expiring(dlq, retention, within=EXPIRY_WARNING)
    expiries = [at for entry in soon if (at := expires_at(entry, retention)) is not None]
    first_expiry = min(expiries, default=None)
    runs = ops_keys.last_runs(client, prefix)
    pushes = ops_keys.last_pushes(client, prefix)
    retries = ops_keys.counts(client, prefix, "retries")
    flows = [
        FlowStatus(
            flow=flow,
            last_run=runs.get(flow),
            last_push_at=pushes.get(flow),
            cursors=cursors.get(flow, {}),
            last_synced_at=_iso(_aware(last_synced.get(flow))),
            lag_p50_seconds=percentile(lags.get(flow, []), 50),
            lag_p95_seconds=percentile(lags.get(flow, []), 95),
            lag_samples=len(lags.get(flow, [])),
            queued=queue_length(client, prefix, flow),
            unsynced=int(unsynced.get(flow, 0)),
            dead_letters=dead.get(flow, 0),
            retries=retries.get(flow, 0),
        )
        for flow in FLOW_QUEUES
    ]
    return EngineStatus(
        at=datetime.now(UTC).isoformat(timespec="seconds"),
        flows=flows,
        realtime_queued=queue_length(client, prefix, REALTIME_QUEUE),
        dead_letters_open=dlq.count(status="open"),
        systems=[acumatica_limits(settings, client), xcart_limits(settings, client)],
        http_429=ops_keys.counts(client, prefix, "http_429"),
        dead_letters_expiring=len(soon),
        dead_letters_first_expiry=_iso(first_expiry),
        dead_letters_retention_days=settings.dlq_retention_days,
    )


# -- shared limits, read from the keys the connectors write (connectors/limits.py) -------------


def _limits_facts(
    client: redis.Redis, prefix: str, name: str, per_minute: int | None, window: int
) -> tuple[int | None, int, float]:
    """(requests in the moving window, requests in flight, seconds of 429 cool-down left)."""
    limits = SharedLimits(
        client, name, requests_per_window=per_minute, window_seconds=window, prefix=prefix
    )
    used = limits.in_window() if per_minute else None
    return used, limits.in_flight(), limits.cooldown_left()


def _system_limits(
    system: str, config: Any, settings: Settings, client: redis.Redis, **extra: Any
) -> SystemLimits:
    used, in_flight, cooling = _limits_facts(
        client,
        settings.redis_key_prefix,
        config.limits_name,
        config.requests_per_minute,
        config.rate_window_seconds,
    )
    return SystemLimits(
        system=system,
        requests_in_window=used,
        requests_per_minute=config.requests_per_minute,
        in_flight=in_flight,
        max_concurrent=config.max_concurrent,
        cooling_down_seconds=cooling,
        **extra,
    )


def acumatica_limits(settings: Settings, client: redis.Redis) -> SystemLimits:
    from sync_workers.clients import acumatica_config

    config = acumatica_config(settings)
    return _system_limits(
        "acumatica",
        config,
        settings,
        client,
        sessions_in_use=acumatica_sessions_in_use(client, settings.redis_key_prefix),
        max_sessions=config.max_sessions,
        requests_by_interface=acumatica_requests(client, settings.redis_key_prefix),
    )


def acumatica_requests(client: redis.Redis, prefix: str) -> dict[str, int]:
    """Acumatica requests sent by the fleet, contract API and OData apart (the counts
    ``AcumaticaClient.requests`` keeps)."""
    from sync_workers.connectors.acumatica.client import RequestCounter

    counts = ops_keys.counts(client, prefix, RequestCounter.NAME)
    return {kind: counts.get(kind, 0) for kind in (RequestCounter.CONTRACT, RequestCounter.ODATA)}


def xcart_limits(settings: Settings, client: redis.Redis) -> SystemLimits:
    from sync_workers.clients import xcart_config

    return _system_limits("xcart", xcart_config(settings), settings, client)


def acumatica_sessions_in_use(client: redis.Redis, prefix: str) -> int:
    """Seats of the fleet's session pool holding a signed-in session (session_pool.py keys)."""
    seats = 0
    for seat_key in client.scan_iter(match=f"{prefix}acumatica:*:seat:*", count=500):
        if seat_key.endswith((":users", ":lock")):
            continue
        if client.hexists(seat_key, "credential"):
            seats += 1
    return seats
