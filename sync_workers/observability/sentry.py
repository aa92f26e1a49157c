"""Sentry: Celery errors, beat check-ins and one alert per dead-lettered record.

Off without ``SENTRY_DSN``. Personal data stays home. The SDK's ``data_collection`` defaults
collect user details, request bodies, cookies, query strings, task arguments and stack-frame
variables, so :data:`DATA_COLLECTION` turns each of those off explicitly; log records become
breadcrumbs only (never Sentry Logs, which would carry every log line's arguments), and every
event, breadcrumb, log and check-in is scrubbed on its way out (``scrubbing``).
Failures that the engine already dead-lettered as a :class:`~sync_workers.errors.SyncError` are
not sent a second time as task exceptions: the dead-letter alert (flow, record id, step, reason)
is the one event for them. Unexpected exceptions (bugs) are sent with their stack trace too.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import sentry_sdk
from sentry_sdk.integrations.celery import CeleryIntegration
from sentry_sdk.integrations.flask import FlaskIntegration
from sentry_sdk.integrations.logging import LoggingIntegration
from sentry_sdk.transport import Transport

from sync_workers.dlq import DeadLetter
from sync_workers.errors import SyncError
from sync_workers.observability.scrubbing import (
    SAFE_HEADERS,
    before_breadcrumb,
    personal_values,
    scrub_log,
    scrub_value,
)
from sync_workers.observability.scrubbing import before_send as scrub_event
from sync_workers.settings import Settings

if TYPE_CHECKING:
    from sentry_sdk._types import DataCollectionUserOptions

log = logging.getLogger(__name__)

#: What the SDK may collect on its own: nothing about the people behind an order. Every
#: category whose default is "collect" is named here, so a new default cannot widen it.
DATA_COLLECTION: DataCollectionUserOptions = {
    "user_info": False,
    "cookies": {"mode": "off"},
    "http_headers": {"request": {"mode": "allowlist", "terms": sorted(SAFE_HEADERS)}},
    "http_bodies": [],
    "url_query_params": {"mode": "off"},
    "graphql": {"document": False, "variables": False},
    "gen_ai": {"inputs": False, "outputs": False},
    "mcp": {"inputs": False, "outputs": False},
    "database_query_data": False,
    "queues": False,
    "stack_frame_variables": False,
}


def _before_send(event: dict[str, Any], hint: dict[str, Any]) -> dict[str, Any] | None:
    exc_info = (hint or {}).get("exc_info")
    if exc_info and isinstance(exc_info[1], SyncError) and _from_celery_task(event):
        return None  # dead-lettered: alerted once through dead_letter_alert
    return scrub_event(event, hint)


def _from_celery_task(event: dict[str, Any]) -> bool:
    return "celery-job" in (event.get("extra") or {}) or (
        (event.get("tags") or {}).get("celery_task_id") is not None
    )


def beat_entries_without_monitor(schedule: dict[str, Any]) -> list[str]:
    """Beat entries Sentry crons cannot monitor (intervals that are not whole minutes)."""
    skipped = []
    for name, entry in schedule.items():
        every = entry.get("schedule")
        seconds = every.total_seconds() if isinstance(every, timedelta) else every
        if isinstance(seconds, int | float) and (seconds < 60 or seconds % 60):
            skipped.append(name)
    return skipped


def init_sentry(
    settings: Settings,
    *,
    beat_schedule: dict[str, Any] | None = None,
    transport: Transport | None = None,
) -> bool:
    """Start Sentry when a DSN is set; True when it was started. ``beat_schedule``: the entries
    to monitor as Sentry crons (beat passes its own)."""
    dsn = settings.sentry_dsn.reveal() if settings.sentry_dsn else None
    if not dsn:
        return False
    _init(settings, dsn, beat_schedule or {}, transport)
    from sync_workers.task import dead_lettered

    dead_lettered.connect(dead_letter_alert, weak=False, dispatch_uid="sentry-dead-letter-alert")
    log.info("Sentry is on (environment %s)", settings.sentry_environment)
    return True


def _init(
    settings: Settings, dsn: str, beat_schedule: dict[str, Any], transport: Transport | None
) -> None:
    sentry_sdk.init(
        dsn=dsn,
        environment=settings.sentry_environment,
        transport=transport,
        data_collection=DATA_COLLECTION,
        max_request_body_size="never",
        before_send=_before_send,  # type: ignore[arg-type]
        before_breadcrumb=before_breadcrumb,
        before_send_log=scrub_log,  # type: ignore[arg-type]
        integrations=[
            CeleryIntegration(
                monitor_beat_tasks=True,
                exclude_beat_tasks=beat_entries_without_monitor(beat_schedule),
            ),
            FlaskIntegration(),
            LoggingIntegration(level=None, event_level=None, breadcrumb_level=logging.INFO),
        ],
    )


#: Codes listed per unmapped value in an alert.
SUGGESTIONS_PER_VALUE = 3


def mapping_suggestions(entry: DeadLetter) -> dict[str, list[dict[str, Any]]]:
    """For each store value the dead letter names that no mapping covers (``<field> <value>``),
    the mapping assistant's best Acumatica codes with their scores. Acumatica's lists are kept
    in the process for a few minutes, so alerts ask the ERP little; an alert never fails for
    want of them (empty when they cannot be read)."""
    from sync_workers import clients
    from sync_workers.mapping.assistant.profile import values_of
    from sync_workers.mapping.assistant.reference import KeptReference
    from sync_workers.mapping.assistant.suggest import suggestions_for

    found: dict[str, list[dict[str, Any]]] = {}
    try:
        wanted = values_of(entry)
        if not wanted:
            return found
        reference = KeptReference(clients.acumatica())
        for spec, value in wanted:
            ranked = suggestions_for(spec, value, reference, count=SUGGESTIONS_PER_VALUE)
            found[f"{spec.name} {value}"] = [
                {"target": s.code, "score": round(s.score, 3), "confident": s.confident}
                for s in ranked
            ]
    except Exception as exc:  # the alert goes out without them
        log.info("dead-letter alert: no mapping suggestions (%s)", type(exc).__name__)
    return found


def dead_letter_alert(sender: Any = None, entry: DeadLetter | None = None, **_: Any) -> None:
    """One Sentry event per dead-lettered record: flow, record id, step and reason."""
    if entry is None or not sentry_sdk.get_client().is_active():
        return
    known = personal_values([entry.kwargs, entry.args, entry.payload, entry.error_details])
    reason = scrub_value(f"{entry.error_class}: {entry.error_message}", known)
    with sentry_sdk.new_scope() as scope:
        scope.set_tag("flow", entry.flow)
        scope.set_tag("record_id", entry.record_id or "-")
        scope.set_tag("step", entry.step)
        scope.set_tag("error_class", entry.error_class)
        scope.set_tag("dlq_entry", entry.id)
        if entry.trace_id:
            scope.set_tag("trace_id", entry.trace_id)
        scope.set_context(
            "dead_letter",
            scrub_value(
                {
                    "flow": entry.flow,
                    "record_id": entry.record_id,
                    "task": entry.task,
                    "step": entry.step,
                    "reason": reason,
                    "field_errors": scrub_value(entry.field_errors, known),
                    "attempts": entry.attempts,
                    "first_failed_at": entry.first_failed_at,
                    "last_failed_at": entry.last_failed_at,
                    "entry": entry.id,
                },
                known,
            ),
        )
        suggestions = mapping_suggestions(entry)
        if suggestions:
            scope.set_context("mapping_suggestions", scrub_value(suggestions, known))
        scope.fingerprint = ["dead-letter", entry.flow, entry.record_id or entry.task_id]
        sentry_sdk.capture_message(
            f"{entry.flow} record {entry.record_id or '?'} dead-lettered at {entry.step}: {reason}",
            level="error",
        )
