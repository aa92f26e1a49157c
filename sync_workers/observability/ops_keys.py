"""Operational facts the workers and the webhook receiver record in Redis for ``status`` and ``/metrics``.

``ops:last_run`` hash flow → JSON of the last poll (time, outcome, task id);
``ops:last_push`` hash flow → ISO time the webhook receiver last accepted an Acumatica push
notification for it;
``ops:retries`` hash flow → retries scheduled; ``ops:http_429`` hash system → retries caused by a
429 answer.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import redis


def key(prefix: str, name: str) -> str:
    return f"{prefix}ops:{name}"


def record_poll(client: redis.Redis, prefix: str, flow: str, state: str, task_id: str) -> None:
    at = datetime.now(UTC).isoformat(timespec="seconds")
    value = json.dumps({"at": at, "state": state, "task_id": task_id})
    client.hset(key(prefix, "last_run"), flow, value)


def last_runs(client: redis.Redis, prefix: str) -> dict[str, dict[str, Any]]:
    raw = client.hgetall(key(prefix, "last_run")) or {}
    return {flow: json.loads(value) for flow, value in raw.items()}


def record_push(client: redis.Redis, prefix: str, flow: str) -> None:
    at = datetime.now(UTC).isoformat(timespec="seconds")
    client.hset(key(prefix, "last_push"), flow, at)


def last_pushes(client: redis.Redis, prefix: str) -> dict[str, str]:
    return dict(client.hgetall(key(prefix, "last_push")) or {})


def count(client: redis.Redis, prefix: str, name: str, field: str, by: int = 1) -> None:
    client.hincrby(key(prefix, name), field, by)


def counts(client: redis.Redis, prefix: str, name: str) -> dict[str, int]:
    return {k: int(v) for k, v in (client.hgetall(key(prefix, name)) or {}).items()}
