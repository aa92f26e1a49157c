"""Reconcile runs started from the console: a flow's ``drift`` in a :class:`~.jobs.Jobs` thread,
its differences (scrubbed, the first ``DRIFT_LIMIT``) and any repair kept with the run."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import redis

from sync_workers.console.jobs import Jobs
from sync_workers.observability.scrubbing import scrub_value

#: Differences kept per run (the count is always whole).
DRIFT_LIMIT = 2000


class DriftJobs(Jobs):
    def __init__(self, client: redis.Redis, prefix: str) -> None:
        super().__init__(client, prefix, "reconcile")

    def start(self, flow: str, since: datetime | None, *, by: str, wait: bool = False) -> str:
        def work(_job: dict[str, Any]) -> dict[str, Any]:
            from sync_workers.cli.flows import as_dict
            from sync_workers.cli.output import masked
            from sync_workers.flows.runner import definition

            found = definition(flow).drift(since=since)
            drifts = [scrub_value(masked(as_dict(d))) for d in found]
            return {"count": len(drifts), "drift": drifts[:DRIFT_LIMIT]}

        fields = {"flow": flow, "since": since.isoformat() if since else None}
        return self.begin(fields, work, by=by, wait=wait)

    def repaired(self, job: dict[str, Any], repair: dict[str, Any]) -> None:
        job["repair"] = repair
        self.save(job)
