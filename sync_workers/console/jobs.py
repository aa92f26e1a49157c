"""Long checks started from the console: run in a thread, their state and result in Redis.

A reconcile run or a preflight reads both systems and can take longer than a page may: the
console starts it in a thread of the worker process that took the request and the page refreshes
until it is done. A run lives in Redis (``console:<kind>:run:<id>``, for a day; the last ``KEEP``
are listed), so every worker and replica shows it. A run whose process died stays ``running``;
the page says since when.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import redis

from sync_workers.observability.scrubbing import scrub_text

log = logging.getLogger(__name__)

TTL_SECONDS = 24 * 3600
KEEP = 20

#: The work of a run: given the run's fields, the fields its result adds.
Work = Callable[[dict[str, Any]], dict[str, Any]]


class Jobs:
    """The runs of one ``kind`` (``reconcile``, ``preflight``)."""

    def __init__(self, client: redis.Redis, prefix: str, kind: str) -> None:
        self.redis = client
        self.prefix = prefix
        self.kind = kind

    def _key(self, *parts: str) -> str:
        return f"{self.prefix}console:{self.kind}:" + ":".join(parts)

    def save(self, job: dict[str, Any]) -> None:
        self.redis.set(self._key("run", job["id"]), json.dumps(job, default=str), ex=TTL_SECONDS)

    def begin(self, fields: dict[str, Any], work: Work, *, by: str, wait: bool = False) -> str:
        """Record a new run of ``work`` and start it in a thread (``wait``: and let it finish)."""
        job_id = uuid.uuid4().hex[:16]
        job = {
            "id": job_id,
            **fields,
            "by": by,
            "status": "running",
            "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        self.save(job)
        pipe = self.redis.pipeline(transaction=False)
        pipe.lpush(self._key("runs"), job_id)
        pipe.ltrim(self._key("runs"), 0, KEEP - 1)
        pipe.execute()
        worker = threading.Thread(target=self._run, args=(job, work), daemon=True)
        worker.start()
        if wait:
            worker.join()
        return job_id

    def _run(self, job: dict[str, Any], work: Work) -> None:
        try:
            job.update(status="done", **work(job))
        except Exception as exc:
            log.warning("console %s run failed: %s", self.kind, type(exc).__name__)
            job.update(status="failed", error=f"{type(exc).__name__}: {scrub_text(str(exc))}")
        job["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
        self.save(job)

    def get(self, job_id: str) -> dict[str, Any] | None:
        raw = self.redis.get(self._key("run", job_id))
        return json.loads(raw) if raw else None

    def recent(self) -> list[dict[str, Any]]:
        ids = self.redis.lrange(self._key("runs"), 0, KEEP - 1)
        raws = self.redis.mget([self._key("run", i) for i in ids]) if ids else []
        return [json.loads(raw) for raw in raws if raw]
