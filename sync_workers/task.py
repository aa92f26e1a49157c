"""The base task every sync step runs on: retry policy, dead-lettering and tracing in one place.

* A ``TransientError`` (or an infrastructure hiccup, see ``errors_policy``) is retried with
  exponential backoff and jitter: each delay lies in [d/2, d] with d = base x 2^retries capped at
  the maximum, so delays grow while staying spread out. ``retry_after`` from the remote wins.
* A fleet-wide wait (``TransientError.fleet_wide``: every Acumatica licence seat taken, as when
  sessions of killed processes or lost login answers hold them until Acumatica's idle timeout)
  is retried the same way but does not spend the record's ``RETRY_MAX``, for up to
  ``FLEET_WAIT_LIMIT`` seconds after the task's first failure; then it counts like any other.
* A ``PermanentError`` (or an engine error no retry can fix, such as a ledger schema that is
  not migrated) or any unexpected exception goes to the dead-letter queue at once.
* An exhausted retry goes there exactly once, also when the hard time limit killed the process or
  the worker was lost (``task_failure`` signal path), deduplicated by task id.
"""

from __future__ import annotations

import logging
import random
import traceback as tb
from datetime import UTC, datetime
from typing import Any

from celery import Task
from celery.exceptions import Ignore, Reject, Retry, SoftTimeLimitExceeded
from celery.utils.dispatch import Signal
from redis.exceptions import RedisError

from sync_workers.dates import parse_optional
from sync_workers.dlq import DeadLetter, DeadLetterQueue, now_iso
from sync_workers.errors import DependencyNotReady, PermanentError, SyncError, TransientError
from sync_workers.errors_policy import as_permanent, as_transient
from sync_workers.logs import mask_in_logs
from sync_workers.redis_client import get_redis, prefixed
from sync_workers.settings import get_settings
from sync_workers.tracing import current_trace_id

log = logging.getLogger(__name__)

#: Sent once per new dead-letter entry (Sentry alerts and metrics listen to it).
dead_lettered = Signal(name="dead_lettered", providing_args={"entry"})

FIRST_FAILURE_TTL = 7 * 24 * 3600
#: Seconds after a task's first failure during which fleet-wide waits leave its retries alone.
FLEET_WAIT_LIMIT = 3600.0


def backoff_delay(retries: int, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Delay before retry number ``retries + 1``: uniform in [d/2, d], d = min(cap, base x 2^n)."""
    ceiling = min(cap, base * (2**retries))
    return (rng or random).uniform(ceiling / 2, ceiling)


def get_dlq() -> DeadLetterQueue:
    return DeadLetterQueue(get_redis(), get_settings().redis_key_prefix)


class SyncTask(Task):
    """Base class of every sync step (``@app.task(base=SyncTask, name="tasks.<flow>.<step>")``)."""

    abstract = True
    acks_late = True
    #: How the worker shows the task: the message's ids-only argument reprs, scrubbed errors.
    Request = "sync_workers.celery:RedactedRequest"
    #: Flow this step belongs to (``orders``, ``inventory``...): shown in the dead-letter queue.
    flow: str = "engine"
    #: Name of the kwarg (or index of the positional arg) holding the record id; a dict there
    #: (the previous chain step's result) is read for its ``record_id``.
    record_arg: str | int = "record_id"

    @property
    def max_retries(self) -> int:
        """``RETRY_MAX``, also for the retry Celery sends itself when the worker process was lost
        (its default, 3, would dead-letter a task killed after its third transient retry)."""
        return int(get_settings().retry_max)

    @property
    def default_retry_delay(self) -> float:
        """Delay of the retry Celery sends itself when the worker process was lost."""
        return float(get_settings().retry_backoff_base)

    @property
    def step(self) -> str:
        return self.name.rsplit(".", 1)[-1]

    def record_id_of(self, args: tuple[Any, ...] | list[Any], kwargs: dict[str, Any]) -> str | None:
        if isinstance(self.record_arg, int):
            value = args[self.record_arg] if len(args) > self.record_arg else None
        else:
            value = kwargs.get(self.record_arg)
        if isinstance(value, dict):  # a chain step receiving the previous step's result
            value = value.get("record_id")
        return None if value is None else str(value)

    # -- retry ------------------------------------------------------------------------------

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().__call__(*args, **kwargs)
        except Retry:
            raise
        except Exception as exc:
            transient = as_transient(exc)
            if transient is None or self.request.called_directly:
                permanent = as_permanent(exc)
                if permanent is not None:
                    raise permanent from exc
                raise
            raise self._retry_later(transient, exc) from exc

    def _retry_later(self, transient: TransientError, original: Exception) -> BaseException:
        settings = get_settings()
        retries = self.request.retries
        countdown = backoff_delay(retries, settings.retry_backoff_base, settings.retry_backoff_max)
        if transient.retry_after is not None:
            countdown = max(
                countdown, min(float(transient.retry_after), settings.retry_backoff_max)
            )
        expires = parse_optional(self.request.expires)
        if expires is not None and datetime.now(UTC).timestamp() + countdown >= expires.timestamp():
            # Beat's poll messages expire once the next poll is due; a retry coming due after
            # that would be discarded on arrival (or published already expired). The next
            # scheduled run does the same work, so none is sent.
            log.info(
                "%s: not retried: the message expires at %s, before the retry would run; the "
                "next scheduled run takes over: %s",
                self.name,
                expires.isoformat(timespec="seconds"),
                transient,
                extra={"flow": self.flow},
            )
            return Ignore()
        try:
            self._note_first_failure()
        except (RedisError, SoftTimeLimitExceeded) as exc:
            # only the first-failure time is lost; the retry still goes (the soft limit fires
            # here when Redis is unreachable long enough)
            log.warning(
                "%s: could not note the first failure: %s: %s", self.name, type(exc).__name__, exc
            )
        waiting = transient.fleet_wide and self._failing_for() < FLEET_WAIT_LIMIT
        level = logging.INFO if isinstance(transient, DependencyNotReady) else logging.WARNING
        record_id = self.record_id_of(self.request.args or (), self.request.kwargs or {})
        log.log(
            level,
            "%s: record %s, step %s: retry %s in %.2fs: %s: %s",
            self.name,
            record_id,
            self.step,
            f"{retries}/{settings.retry_max} (fleet-wide wait, not counted)"
            if waiting
            else f"{retries + 1}/{settings.retry_max}",
            countdown,
            type(transient).__name__,
            transient,
            extra={"flow": self.flow, "record_id": record_id, "step": self.step},
        )
        if waiting:
            # Celery publishes the retry with ``request.retries + 1``: the record keeps its count.
            self.request.retries = retries - 1
        try:
            return self.retry(exc=original, countdown=countdown, max_retries=settings.retry_max)
        except Retry as retry:
            return retry
        except Reject as reject:
            # Celery could not publish the retry (the broker is restarting, or Redis is still
            # loading its data) and would drop this message for good. Put it back instead: the
            # broker redelivers it, or restores it from the unacked set if even that fails.
            log.warning(
                "%s: could not schedule retry %d (%s); message returned to the queue",
                self.name,
                retries + 1,
                reject.reason,
                extra={"flow": self.flow},
            )
            return Reject(reject.reason, requeue=True)

    def _note_first_failure(self) -> None:
        get_redis().set(
            prefixed("dlq", "first", self.request.id), now_iso(), nx=True, ex=FIRST_FAILURE_TTL
        )

    def _failing_for(self) -> float:
        """Seconds since this task's first noted failure (0 when none is known)."""
        try:
            first = parse_optional(get_redis().get(prefixed("dlq", "first", self.request.id)))
        except (RedisError, SoftTimeLimitExceeded):
            return FLEET_WAIT_LIMIT  # unknown: count the retry, as for any transient error
        return 0.0 if first is None else max(0.0, datetime.now(UTC).timestamp() - first.timestamp())

    # -- dead letters -----------------------------------------------------------------------

    def on_failure(
        self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any
    ) -> None:
        self.dead_letter(exc, task_id, args, kwargs, einfo)

    def dead_letter(
        self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any = None
    ) -> DeadLetter | None:
        """Record the final failure of ``task_id``; a second call for the same task id is a no-op."""
        request = self.request
        args = list(args or ())
        kwargs = dict(kwargs or {})
        redis = get_redis()
        first = redis.get(prefixed("dlq", "first", task_id))
        delivery = getattr(request, "delivery_info", None) or {}
        entry = DeadLetter(
            flow=self.flow,
            record_id=self.record_id_of(args, kwargs),
            task=self.name,
            step=self.step,
            task_id=task_id,
            args=args,
            kwargs=kwargs,
            error_class=type(exc).__name__,
            error_message=str(exc) or repr(exc),
            traceback=_short_traceback(exc, einfo),
            field_errors=getattr(exc, "field_errors", {}) or {},
            error_details=getattr(exc, "details", {}) if isinstance(exc, SyncError) else {},
            attempts=(request.retries or 0) + 1,
            first_failed_at=first or now_iso(),
            last_failed_at=datetime.now(UTC).isoformat(timespec="milliseconds"),
            trace_id=getattr(request, "trace_id", None) or current_trace_id(),
            root_id=getattr(request, "root_id", None),
            queue=delivery.get("routing_key"),
            chain=list(getattr(request, "chain", None) or []),
            payload=self.payload_snapshot(args, kwargs),
            replay_of=(getattr(request, "headers", None) or {}).get("dlq_replay_of")
            or getattr(request, "dlq_replay_of", None),
        )
        queue = get_dlq()
        if not queue.add(entry):
            # Folded into the record's open entry: the record is dead-lettered already, but its
            # ledger row may have been claimed again since (a restarted chain, a duplicate).
            if entry.record_id is not None and queue.open_entry_of(
                entry.flow, str(entry.record_id)
            ):
                self.on_dead_letter(entry, exc)
            return None
        redis.delete(prefixed("dlq", "first", task_id))
        kind = "permanent" if isinstance(exc, PermanentError) else "exhausted or fatal"
        mask_in_logs(entry.payload)  # a flow's payload may hold more than the task's arguments
        log.error(
            "%s: record %s dead-lettered at step %s (%s): %s: %s",
            self.name,
            entry.record_id,
            entry.step,
            kind,
            entry.error_class,
            exc,
            extra={
                "flow": self.flow,
                "record_id": entry.record_id,
                "step": entry.step,
                "error_class": entry.error_class,
                "dlq_entry": entry.id,
            },
        )
        try:
            self.on_dead_letter(entry, exc)
        finally:
            dead_lettered.send(sender=self, entry=entry)
        return entry

    def payload_snapshot(self, args: list[Any], kwargs: dict[str, Any]) -> Any:
        """What the step was working on; flows override to add the fetched source record."""
        return {"args": args, "kwargs": kwargs}

    def on_dead_letter(self, entry: DeadLetter, exc: BaseException) -> None:
        """Hook for the runner (mark the record's ledger row); must not raise."""


def _short_traceback(exc: BaseException, einfo: Any, limit: int = 8000) -> str:
    text = getattr(einfo, "traceback", None) or "".join(
        tb.format_exception(type(exc), exc, exc.__traceback__)
    )
    return text[-limit:]


def on_task_failure(
    sender: Any = None,
    task_id: str | None = None,
    exception: Any = None,
    args: Any = None,
    kwargs: Any = None,
    einfo: Any = None,
    **_: Any,
) -> None:
    """``task_failure`` receiver: the lost-worker and hard-time-limit paths skip ``on_failure``."""
    if isinstance(sender, SyncTask) and task_id:
        try:
            sender.dead_letter(exception, task_id, args, kwargs, einfo)
        except Exception:
            log.exception("could not dead-letter %s[%s]", getattr(sender, "name", "?"), task_id)
