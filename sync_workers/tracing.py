"""A trace id per record, carried through every task of its chain and into every log line.

The id travels in a message header (``trace_id``). Publishing from inside a task (the next step of
a chain, a child task) copies the current id; a new chain started by a poll gets a fresh one.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

HEADER = "trace_id"

_current: ContextVar[str | None] = ContextVar("trace_id", default=None)
_task: ContextVar[dict[str, str] | None] = ContextVar("task_context", default=None)


def new_trace_id() -> str:
    return uuid.uuid4().hex


def current_trace_id() -> str | None:
    return _current.get()


def current_task() -> dict[str, str] | None:
    return _task.get()


@contextmanager
def trace(trace_id: str | None = None) -> Iterator[str]:
    """Run a block under ``trace_id`` (a new one when omitted)."""
    value = trace_id or new_trace_id()
    token = _current.set(value)
    try:
        yield value
    finally:
        _current.reset(token)


def on_before_publish(headers: dict[str, Any] | None = None, **_: Any) -> None:
    """Celery ``before_task_publish``: stamp the current trace id on outgoing messages."""
    if headers is None:
        return
    if not headers.get(HEADER):
        headers[HEADER] = current_trace_id() or new_trace_id()


def on_task_prerun(task_id: str | None = None, task: Any = None, **_: Any) -> None:
    """Celery ``task_prerun``: adopt the message's trace id for the task's duration."""
    request = getattr(task, "request", None)
    trace_id = getattr(request, HEADER, None) if request is not None else None
    if not trace_id and request is not None:
        trace_id = (getattr(request, "headers", None) or {}).get(HEADER)
    _current.set(trace_id or new_trace_id())
    _task.set({"task_id": task_id or "", "task": getattr(task, "name", "")})


def on_task_postrun(**_: Any) -> None:
    _current.set(None)
    _task.set(None)
