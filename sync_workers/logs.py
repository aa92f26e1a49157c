"""Structured logging: JSON lines when not on a terminal, readable text on one.

Every line carries the current trace id and task, so one record's journey can be followed across
workers with a single search.

No line carries customer data. Task messages show ids only (``argsrepr``/``kwargsrepr``, see
``sync_workers.redaction.task_reprs``), and both formatters scrub every record on its way out:
e-mail addresses, phone numbers, street addresses and credentials in the message, the exception
and any extra field are masked, and so are the values found under personal keys (names,
e-mails, addresses, phones, companies, logins) of the running task's arguments and of what the
task adds with :func:`mask_in_logs` (its dead letter's payload). An error then reads
``order 00042 is invalid: billing_address.state: unknown state 'Zz' for US`` or
``customer [Filtered] has no valid state``: the record, the field and the reason stay.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from sync_workers.observability.scrubbing import (
    known_pattern,
    personal_values,
    scrub_text,
    scrub_value,
)
from sync_workers.tracing import current_task, current_trace_id

#: Loggers held at WARNING unless LOG_LEVEL is DEBUG. Celery's per-task "received"/"succeeded"
#: lines say nothing the engine's own lines and the run history do not (one line per task);
#: failures and retries are logged by the base task. Alembic announces its plugins and every
#: migration step; a process that migrates the ledger says so in one line of its own.
QUIET_LOGGERS = ("celery.app.trace", "celery.worker.strategy", "alembic")

#: Celery's trace and strategy attach their whole context as ``data`` (task arguments included,
#: or their repr); the message and the exception already say what it holds.
_CELERY_CONTEXT = "data"

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


def personal_pattern(sources: Any, record_id: Any = None) -> re.Pattern[str] | None:
    """The values under personal keys of ``sources`` to mask in text, as one pattern. Short
    numbers (a state's or an address's id) and the record's own id are left out: they say
    nothing about a person, and the line must still name its record."""
    keep = {str(record_id)} if record_id is not None else set()
    return known_pattern(
        value
        for value in personal_values(sources)
        if value not in keep and not (value.isdigit() and len(value) < 5)
    )


class _PersonalData:
    """The running task's personal values, found when a line is first written (most tasks
    write none), again after :func:`mask_in_logs` adds a source."""

    __slots__ = ("_pattern", "_record_id", "_sources", "_stale")

    def __init__(self, args: Any, kwargs: Any) -> None:
        self._sources = [args, kwargs]
        self._record_id = kwargs.get("record_id") if isinstance(kwargs, dict) else None
        self._pattern: re.Pattern[str] | None = None
        self._stale = True

    def add(self, source: Any) -> None:
        self._sources.append(source)
        self._stale = True

    def pattern(self) -> re.Pattern[str] | None:
        if self._stale:
            self._pattern = personal_pattern(self._sources, self._record_id)
            self._stale = False
        return self._pattern


_task_data: ContextVar[_PersonalData | None] = ContextVar("log_personal_data", default=None)


def on_task_prerun(args: Any = None, kwargs: Any = None, **_: Any) -> None:
    """Celery ``task_prerun``: the task's arguments are the first source of values to mask."""
    _task_data.set(_PersonalData(args or (), kwargs or {}))


def on_task_postrun(**_: Any) -> None:
    _task_data.set(None)


def mask_in_logs(source: Any) -> None:
    """Mask the values under personal keys of ``source`` (a dead letter's payload, a record the
    task fetched) in every line the running task writes from now on. Outside a task, a no-op."""
    data = _task_data.get()
    if data is not None:
        data.add(source)


def _known() -> re.Pattern[str] | None:
    data = _task_data.get()
    return data.pattern() if data is not None else None


def scrubbed(text: str) -> str:
    """``text`` as a log line would show it: e-mails, phones, streets, credentials and the
    running task's personal values masked (for errors kept outside the dead-letter queue)."""
    return scrub_text(text, _known())


class ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.trace_id = current_trace_id()
        task = current_task() or {}
        record.task_id = task.get("task_id")
        record.task_name = task.get("task")
        return True


class _ScrubbingFormatter(logging.Formatter):
    """The message and the exception of a record, scrubbed (see the module's docstring)."""

    def scrubbed(self, record: logging.LogRecord) -> tuple[str, str | None, re.Pattern[str] | None]:
        known = _known()
        message = scrub_text(record.getMessage(), known)
        details = []
        if record.exc_info:
            details.append(self.formatException(record.exc_info))
        if record.stack_info:
            details.append(self.formatStack(record.stack_info))
        extra = scrub_text("\n".join(details), known) if details else None
        return message, extra, known


class JsonFormatter(_ScrubbingFormatter):
    def format(self, record: logging.LogRecord) -> str:
        message, exc, known = self.scrubbed(record)
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": message,
        }
        celery = record.name.startswith("celery.")
        for key, value in vars(record).items():
            if key in _STANDARD or value is None or key.startswith("_"):
                continue
            if celery and key == _CELERY_CONTEXT:
                continue
            if not isinstance(value, str | int | float | bool | dict | list | tuple):
                value = str(value)
            out[key] = scrub_value({key: value}, known)[key]
        if exc:
            out["exc"] = exc
        return json.dumps(out, default=str, ensure_ascii=False)


class TextFormatter(_ScrubbingFormatter):
    def format(self, record: logging.LogRecord) -> str:
        message, details, _ = self.scrubbed(record)
        trace_id = getattr(record, "trace_id", None)
        trace = f" [{trace_id[:8]}]" if trace_id else ""
        base = f"{self.formatTime(record, '%H:%M:%S')} {record.levelname:<7} {record.name}{trace}: "
        text = base + message
        if details:
            text += "\n" + details
        return text


def configure_logging(level: str = "INFO", fmt: str = "auto", stream: Any = None) -> None:
    """Install one handler on the root logger (idempotent)."""
    stream = stream or sys.stderr
    use_json = fmt == "json" or (fmt == "auto" and not getattr(stream, "isatty", lambda: False)())
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter() if use_json else TextFormatter())
    handler.addFilter(ContextFilter())
    handler.set_name("sync_workers")
    root = logging.getLogger()
    for existing in list(root.handlers):
        if existing.get_name() == "sync_workers":
            root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level)
    if logging.getLevelName(level) > logging.DEBUG:
        for name in QUIET_LOGGERS:
            logging.getLogger(name).setLevel(logging.WARNING)
