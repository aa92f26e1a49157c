"""``celery -A sync_workers sync-status``: per flow the last poll, the last Acumatica push
notification the webhook receiver accepted, cursor, lag, backlog and dead letters; Acumatica
sessions in use and request rate against the licence; a warning when dead letters lose their
data to ``DLQ_RETENTION_DAYS`` within a week. Reads Redis and the ledger only, so it works while
both remote systems are down. Exits 1 when dead letters are open.
"""

from __future__ import annotations

from datetime import UTC, datetime

import click

from sync_workers.cli import EXIT_FOUND
from sync_workers.cli.command import OperatorCommand
from sync_workers.cli.output import emit_json, json_option, run_guarded, table


def _ago(iso: str | None, missing: str = "never") -> str:
    if not iso:
        return missing
    moment = datetime.fromisoformat(iso)
    seconds = int((datetime.now(UTC) - moment).total_seconds())
    if seconds < 120:
        return f"{seconds}s ago"
    if seconds < 7200:
        return f"{seconds // 60}m ago"
    return f"{seconds // 3600}h ago"


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}s"


def _cursor(cursors: dict) -> str:
    if not cursors:
        return "-"
    return ", ".join(f"{direction}={c['value']}" for direction, c in sorted(cursors.items()))


@click.command("sync-status", cls=OperatorCommand)
@json_option
def status(as_json: bool) -> None:
    """What every flow is doing, and how much of the Acumatica licence is in use."""
    from sync_workers.dlq_upkeep import EXPIRY_WARNING
    from sync_workers.ledger.db import get_engine
    from sync_workers.observability.status import collect_status
    from sync_workers.redis_client import get_redis
    from sync_workers.settings import get_settings

    settings = get_settings()
    report = run_guarded(
        lambda: collect_status(settings, get_redis(), get_engine()), "status", as_json=as_json
    )
    if as_json:
        emit_json(report.as_dict())
    else:
        rows = []
        for flow in report.flows:
            run = flow.last_run or {}
            last = f"{_ago(run.get('at'))} {run.get('state', '')}".strip()
            rows.append(
                [
                    flow.flow,
                    last,
                    _ago(flow.last_push_at, missing="none"),
                    _cursor(flow.cursors),
                    _seconds(flow.lag_p50_seconds),
                    _seconds(flow.lag_p95_seconds),
                    f"{flow.backlog} ({flow.queued} queued)",
                    flow.retries,
                    flow.dead_letters,
                ]
            )
        table(
            rows,
            [
                "FLOW",
                "LAST POLL",
                "LAST PUSH",
                "CURSOR",
                "LAG P50",
                "LAG P95",
                "BACKLOG",
                "RETRIES",
                "DLQ",
            ],
        )
        click.echo(f"\nrealtime queue: {report.realtime_queued} waiting")
        for system in report.systems:
            rate = (
                f"{system.requests_in_window}/{system.requests_per_minute} requests this minute"
                if system.requests_per_minute
                else "no rate cap"
            )
            line = f"{system.system}: {rate}, {system.in_flight}/{system.max_concurrent} in flight"
            if system.sessions_in_use is not None:
                line += f", sessions {system.sessions_in_use}/{system.max_sessions}"
            if system.requests_by_interface is not None:
                sent = system.requests_by_interface
                line += (
                    f", requests sent: {sent.get('contract', 0)} contract API,"
                    f" {sent.get('odata', 0)} OData"
                )
            if system.cooling_down_seconds:
                line += f", pausing {system.cooling_down_seconds:.1f}s after a 429"
            click.echo(line)
        click.echo(f"dead letters open: {report.dead_letters_open}")
        if report.dead_letters_expiring:
            first = (report.dead_letters_first_expiry or "")[:16].replace("T", " ")
            click.secho(
                f"warning: {report.dead_letters_expiring} dead letters lose their payload and "
                f"arguments within {EXPIRY_WARNING.days} days, the first at {first} UTC "
                f"(DLQ_RETENTION_DAYS={report.dead_letters_retention_days}): replay or resolve "
                "them (`dlq list --status all --expiring`)",
                fg="yellow",
            )
    if report.dead_letters_open:
        raise SystemExit(EXIT_FOUND)
