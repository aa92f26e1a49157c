"""Sentry: Celery errors, beat check-ins and one alert per dead-lettered record.

Off without ``SENTRY_DSN``. Personal data stays home: ``send_default_pii`` off, no local
variables in stack frames, task arguments dropped and every event scrubbed (``scrubbing``).
Failures that the engine already dead-lettered as a :class:`~sync_workers.errors.SyncError` are
not sent a second time as task exceptions: the dead-letter alert (flow, record id, step, reason)
is the one event for them. Unexpected exceptions (bugs) are sent with their stack trace too.
"""

from __future__ import annotations

import logging
import warnings
from datetime import timedelta
from typing import Any

import sentry_sdk
from sentry_sdk.integrations.celery import CeleryIntegration
from sentry_sdk.integrations.flask import FlaskIntegration
from sentry_sdk.integrations.logging import LoggingIntegration
from sentry_sdk.scrubber import DEFAULT_DENYLIST, EventScrubber
from sentry_sdk.transport import Transport

from sync_workers.dlq import DeadLetter
from sync_workers.errors import SyncError
from sync_workers.observability.scrubbing import before_breadcrumb, personal_values, scrub_value
from sync_workers.observability.scrubbing import before_send as scrub_event
from sync_workers.settings import Settings

log = logging.getLogger(__name__)

EXTRA_DENYLIST = ["email", "e_mail", "address", "phone", "street", "city", "zipcode", "login"]


def _before_send(event: dict[str, Any], hint: dict[str, Any]) -> dict[str, Any] | None:
    exc_info = (hint or {}).get("exc_info")
    if exc_info and isinstance(exc_info[1], SyncError) and _from_celery_task(event):
        return None  # dead-lettered: alerted once through dead_letter_alert
    return scrub_event(event, hint)


def _from_celery_task(event: dict[str, Any]) -> bool:
    return "celery-job" in (event.get("extra") or {}) or (
        (event.get("tags") or {}).get("celery_task_id") is not None
    )


def beat_entries_without_monitor(settings: Settings) -> list[str]:
    """Beat entries Sentry crons cannot monitor (intervals that are not whole minutes)."""
    from sync_workers.celery import beat_schedule

    skipped = []
    for name, entry in beat_schedule(settings).items():
        every = entry.get("schedule")
        seconds = every.total_seconds() if isinstance(every, timedelta) else every
        if isinstance(seconds, int | float) and (seconds < 60 or seconds % 60):
            skipped.append(name)
    return skipped


def init_sentry(settings: Settings, *, transport: Transport | None = None) -> bool:
    """Start Sentry when a DSN is set; True when it was started."""
    dsn = settings.sentry_dsn.reveal() if settings.sentry_dsn else None
    if not dsn:
        return False
    with warnings.catch_warnings():
        # send_default_pii is deprecated in favour of data_collection; off is still off.
        warnings.simplefilter("ignore", DeprecationWarning)
        _init(settings, dsn, transport)
    from sync_workers.task import dead_lettered

    dead_lettered.connect(dead_letter_alert, weak=False, dispatch_uid="sentry-dead-letter-alert")
    log.info("Sentry is on (environment %s)", settings.sentry_environment)
    return True


def _init(settings: Settings, dsn: str, transport: Transport | None) -> None:
    sentry_sdk.init(
        dsn=dsn,
        environment=settings.sentry_environment,
        transport=transport,
        send_default_pii=False,
        include_local_variables=False,
        max_request_body_size="never",
        before_send=_before_send,  # type: ignore[arg-type]
        before_breadcrumb=before_breadcrumb,
        event_scrubber=EventScrubber(denylist=DEFAULT_DENYLIST + EXTRA_DENYLIST, recursive=True),
        integrations=[
            CeleryIntegration(
                monitor_beat_tasks=True,
                exclude_beat_tasks=beat_entries_without_monitor(settings),
            ),
            FlaskIntegration(),
            LoggingIntegration(level=logging.INFO, event_level=None),
        ],
    )


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
        scope.fingerprint = ["dead-letter", entry.flow, entry.record_id or entry.task_id]
        sentry_sdk.capture_message(
            f"{entry.flow} record {entry.record_id or '?'} dead-lettered at {entry.step}: {reason}",
            level="error",
        )
