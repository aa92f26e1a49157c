"""Prometheus metrics, served by the webhook receiver at ``/metrics``.

Computed at scrape time from shared state (the ledger, Redis queues, the dead-letter queue and
the shared-limit keys), so any receiver replica reports the whole fleet and nothing is lost when
a worker restarts. Workers add two facts through :func:`install_worker_hooks`: retries per flow
and the last poll of each flow.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from celery import Celery, signals
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from sync_workers.observability import ops_keys
from sync_workers.settings import Settings

log = logging.getLogger(__name__)


class EngineCollector(Collector):
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def collect(self) -> Iterator[Any]:
        from sync_workers.ledger.db import get_engine
        from sync_workers.observability.status import collect_status
        from sync_workers.redis_client import get_redis

        status = collect_status(
            self.settings,
            get_redis(self.settings.redis_url.reveal()),
            get_engine(self.settings.database_url.reveal()),
        )
        lag = GaugeMetricFamily(
            "sync_lag_seconds",
            "Seconds from source change to target write, over METRICS_LAG_WINDOW_SECONDS",
            labels=["flow", "quantile"],
        )
        samples = GaugeMetricFamily(
            "sync_lag_samples", "Records behind the lag quantiles", labels=["flow"]
        )
        backlog = GaugeMetricFamily(
            "sync_backlog", "Messages queued plus ledger records not yet synced", labels=["flow"]
        )
        queued = GaugeMetricFamily("sync_queue_length", "Messages waiting", labels=["queue"])
        dead = GaugeMetricFamily("sync_dead_letters_open", "Open dead letters", labels=["flow"])
        retries = CounterMetricFamily("sync_retries", "Retries scheduled", labels=["flow"])
        for flow in status.flows:
            for quantile, value in (("0.5", flow.lag_p50_seconds), ("0.95", flow.lag_p95_seconds)):
                if value is not None:
                    lag.add_metric([flow.flow, quantile], value)
            samples.add_metric([flow.flow], flow.lag_samples)
            backlog.add_metric([flow.flow], flow.backlog)
            queued.add_metric([flow.flow], flow.queued)
            dead.add_metric([flow.flow], flow.dead_letters)
            retries.add_metric([flow.flow], flow.retries)
        queued.add_metric(["realtime"], status.realtime_queued)
        yield from (lag, samples, backlog, queued, dead, retries)

        rate = GaugeMetricFamily(
            "sync_api_requests_per_minute",
            "Requests sent in the current one-minute window",
            labels=["system"],
        )
        cap = GaugeMetricFamily(
            "sync_api_requests_per_minute_limit", "Configured cap per minute", labels=["system"]
        )
        in_flight = GaugeMetricFamily(
            "sync_api_in_flight", "Requests in progress", labels=["system"]
        )
        cooldown = GaugeMetricFamily(
            "sync_api_cooldown_seconds",
            "Fleet-wide pause left after a 429 (0 when none)",
            labels=["system"],
        )
        for system in status.systems:
            if system.requests_in_window is not None:
                rate.add_metric([system.system], system.requests_in_window)
            if system.requests_per_minute is not None:
                cap.add_metric([system.system], system.requests_per_minute)
            in_flight.add_metric([system.system], system.in_flight)
            cooldown.add_metric([system.system], system.cooling_down_seconds)
        yield from (rate, cap, in_flight, cooldown)
        too_many = CounterMetricFamily(
            "sync_api_429_retries",
            "429 answers that made a step retry",
            labels=["system"],
        )
        for system_name, count in status.http_429.items():
            too_many.add_metric([system_name], count)
        yield too_many
        interfaces = CounterMetricFamily(
            "sync_acumatica_requests",
            "Acumatica requests sent by the fleet, by interface (contract API or OData)",
            labels=["interface"],
        )
        for system in status.systems:
            for interface, count in (system.requests_by_interface or {}).items():
                interfaces.add_metric([interface], count)
        yield interfaces
        for system in status.systems:
            if system.sessions_in_use is not None:
                yield GaugeMetricFamily(
                    "sync_acumatica_sessions_in_use",
                    "Signed-in API sessions held by the fleet",
                    value=system.sessions_in_use,
                )
                yield GaugeMetricFamily(
                    "sync_acumatica_sessions_max",
                    "ACUMATICA_MAX_SESSIONS",
                    value=system.max_sessions or 0,
                )


def render_latest(settings: Settings) -> tuple[bytes, str]:
    """The Prometheus text exposition for one scrape."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(EngineCollector(settings))
    return generate_latest(registry), CONTENT_TYPE_LATEST


# -- worker hooks ----------------------------------------------------------------------------


def _flow_of(task: Any) -> str | None:
    flow = getattr(task, "flow", None)
    name = getattr(task, "name", "") or ""
    parts = name.split(".")
    if (not flow or flow == "engine") and len(parts) >= 3:
        flow = parts[1]
    return flow if flow and flow != "engine" else None


def _facts() -> tuple[Any, str]:
    from sync_workers.redis_client import get_redis
    from sync_workers.settings import get_settings

    return get_redis(), get_settings().redis_key_prefix


def _remote_429(reason: Any) -> str | None:
    """The system whose 429 answer caused this retry (the connectors' error details say so)."""
    seen = 0
    while reason is not None and seen < 5:
        details = getattr(reason, "details", None)
        if isinstance(details, dict) and details.get("status") == 429:
            return str(details.get("system") or "unknown")
        reason = reason.__cause__ or reason.__context__
        seen += 1
    return None


def on_task_retry(sender: Any = None, reason: Any = None, **_: Any) -> None:
    flow = _flow_of(sender)
    system = _remote_429(reason)
    if flow is None and system is None:
        return
    try:
        client, prefix = _facts()
        if flow is not None:
            ops_keys.count(client, prefix, "retries", flow)
        if system is not None:
            ops_keys.count(client, prefix, "http_429", system)
    except Exception:
        log.warning("could not count a retry of %s", getattr(sender, "name", "?"), exc_info=True)


def on_task_postrun(
    sender: Any = None, task_id: str | None = None, state: str | None = None, **_: Any
) -> None:
    name = getattr(sender, "name", "") or ""
    if not name.endswith(".poll") or state == "RETRY":
        return
    flow = _flow_of(sender)
    if flow is None:
        return
    try:
        client, prefix = _facts()
        ops_keys.record_poll(client, prefix, flow, state or "UNKNOWN", task_id or "")
    except Exception:
        log.warning("could not record the last run of %s", name, exc_info=True)


def install_worker_hooks(app: Celery) -> None:
    """Count retries per flow and note each flow's last poll (called once per app)."""
    signals.task_retry.connect(on_task_retry, weak=False, dispatch_uid="sync-metrics-retry")
    signals.task_postrun.connect(on_task_postrun, weak=False, dispatch_uid="sync-metrics-postrun")
