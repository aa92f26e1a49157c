"""What the flow tests wait for instead of sleeping: the in-process worker being done."""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import datetime

import pytest


class WorkerActivity:
    """Every message this process publishes (the test and the in-process worker alike) and
    every run the worker finishes with it. Once each message has its finished run, nothing more
    is on its way: a test that asserts "nothing else happened" waits for that, not for a while.

    A message due later than the wait's deadline (a countdown follow-up) is left out of it."""

    def __init__(self) -> None:
        self._published: Counter[str] = Counter()
        self._finished: Counter[str] = Counter()
        self._eta: dict[str, float] = {}
        self._names: dict[str, str] = {}
        self._changed = threading.Condition()

    def on_publish(self, sender=None, headers=None, **_) -> None:
        headers = headers or {}
        task_id = headers.get("id")
        if not task_id:
            return
        eta = headers.get("eta")
        with self._changed:
            self._published[task_id] += 1
            self._names[task_id] = str(headers.get("task") or sender)
            if eta:
                self._eta[task_id] = datetime.fromisoformat(eta).timestamp()
            else:
                self._eta.pop(task_id, None)
            self._changed.notify_all()

    def on_finish(self, task_id=None, request=None, **_) -> None:
        task_id = task_id or getattr(request, "id", None)
        if not task_id:
            return
        with self._changed:
            self._finished[task_id] += 1
            self._changed.notify_all()

    def published(self, name: str) -> int:
        """How many messages for task ``name`` were published so far."""
        with self._changed:
            return sum(n for task_id, n in self._published.items() if self._names[task_id] == name)

    def _pending(self, deadline: float) -> list[str]:
        return [
            self._names[task_id]
            for task_id, n in self._published.items()
            if self._finished[task_id] < n and self._eta.get(task_id, 0.0) <= deadline
        ]

    def idle(self, timeout: float = 60.0) -> None:
        """Return once every message published so far (and each one those runs publish) has
        its finished run. The timeout only bounds a broken run: a loaded machine needs seconds
        where an idle one needs milliseconds, so it is far above either."""
        deadline = time.time() + timeout
        with self._changed:
            if not self._changed.wait_for(lambda: not self._pending(deadline), timeout):
                raise AssertionError(
                    f"runs not finished within {timeout}s: {sorted(self._pending(deadline))}"
                )


@pytest.fixture
def worker_activity():
    """The messages published and the runs finished during the test (see WorkerActivity)."""
    from celery import signals

    activity = WorkerActivity()
    signals.after_task_publish.connect(activity.on_publish, weak=False)
    signals.task_postrun.connect(activity.on_finish, weak=False)
    signals.task_revoked.connect(activity.on_finish, weak=False)
    yield activity
    signals.after_task_publish.disconnect(activity.on_publish)
    signals.task_postrun.disconnect(activity.on_finish)
    signals.task_revoked.disconnect(activity.on_finish)
