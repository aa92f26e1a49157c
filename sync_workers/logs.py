"""Structured logging: JSON lines when not on a terminal, readable text on one.

Every line carries the current trace id and task, so one record's journey can be followed across
workers with a single search.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

from sync_workers.tracing import current_task, current_trace_id

#: Loggers held at WARNING unless LOG_LEVEL is DEBUG. Celery's per-task "received"/"succeeded"
#: lines carry task arguments and results, which hold customer data (names, e-mails, addresses);
#: failures and retries are logged by the base task. Alembic announces its plugins and every
#: migration step; a process that migrates the ledger says so in one line of its own.
QUIET_LOGGERS = ("celery.app.trace", "celery.worker.strategy", "alembic")

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.trace_id = current_trace_id()
        task = current_task() or {}
        record.task_id = task.get("task_id")
        record.task_name = task.get("task")
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and value is not None and not key.startswith("_"):
                out[key] = value
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        trace_id = getattr(record, "trace_id", None)
        trace = f" [{trace_id[:8]}]" if trace_id else ""
        base = f"{self.formatTime(record, '%H:%M:%S')} {record.levelname:<7} {record.name}{trace}: "
        text = base + record.getMessage()
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
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
