"""The dead-letter queue: every permanent or exhausted failure, kept in Redis until acted on.

An entry holds what an operator needs at 3 a.m.: the flow and record, the task and step, the
arguments and payload, the error with its field-level reasons and traceback, attempts, first and last
failure times, the trace id, and an audit trail. Entries are never removed by a replay: the
replacement task is published first, and only then is the entry marked ``replayed``.

Keys (all under the configured prefix):
``dlq:entries`` hash id → JSON; ``dlq:index`` zset id → last failure time (every entry);
``dlq:open`` zset of open entries; ``dlq:seen:<task id>`` dedupes the two failure paths of one task;
``dlq:record:<flow>:<record id>`` the open entry of a record; ``dlq:audit`` list of every action.

A record has at most one open entry: when another task for the same record fails (a second
delivery of the order, a poll's restart), that entry is brought up to date with the newest
failure and counts it in ``repeats``, so an operator sees and replays each stuck record once.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import redis

from sync_workers.locks import compare_and_delete

AUDIT_KEEP = 50_000
SEEN_TTL = 7 * 24 * 3600


class EntryNotFound(KeyError):
    pass


class EntryStateError(Exception):
    pass


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@dataclass
class DeadLetter:
    flow: str
    record_id: str | None
    task: str
    step: str
    task_id: str
    args: list[Any]
    kwargs: dict[str, Any]
    error_class: str
    error_message: str
    traceback: str = ""
    field_errors: dict[str, str] = field(default_factory=dict)
    error_details: dict[str, Any] = field(default_factory=dict)
    attempts: int = 1
    first_failed_at: str = field(default_factory=now_iso)
    last_failed_at: str = field(default_factory=now_iso)
    trace_id: str | None = None
    root_id: str | None = None
    queue: str | None = None
    chain: list[dict[str, Any]] = field(default_factory=list)
    payload: Any = None
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    status: str = "open"
    replays: list[dict[str, Any]] = field(default_factory=list)
    audit: list[dict[str, Any]] = field(default_factory=list)
    replay_of: str | None = None
    #: Later failures of other tasks for the same record, folded into this entry.
    repeats: int = 0

    def to_json(self) -> str:
        return json.dumps(asdict(self), default=str, ensure_ascii=False)

    @classmethod
    def from_json(cls, raw: str) -> DeadLetter:
        data = json.loads(raw)
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


class Publisher(Protocol):
    """Publishes a task by name; returns the new task id. The Celery app provides it."""

    def __call__(
        self,
        task: str,
        args: list[Any],
        kwargs: dict[str, Any],
        *,
        queue: str | None,
        chain: list[dict[str, Any]],
        trace_id: str | None,
        headers: dict[str, Any],
    ) -> str: ...


class DeadLetterQueue:
    def __init__(self, client: redis.Redis, prefix: str = "sync:") -> None:
        self.redis = client
        self.prefix = prefix

    def _key(self, *parts: str) -> str:
        return self.prefix + "dlq:" + ":".join(parts)

    # -- writing -----------------------------------------------------------------------------

    def add(self, entry: DeadLetter) -> bool:
        """Store ``entry`` unless an entry for the same task id exists, or fold it into the open
        entry of the same record. True when a new entry was stored."""
        if not self.redis.set(self._key("seen", entry.task_id), entry.id, nx=True, ex=SEEN_TTL):
            return False
        if entry.record_id is not None:
            record_key = self._record_key(entry)
            if not self.redis.set(record_key, entry.id, nx=True):
                open_id = self.redis.get(record_key)
                if open_id is not None and self._fold(open_id, entry):
                    return False
                self.redis.set(record_key, entry.id)  # that entry is no longer open
        entry.audit.append({"at": now_iso(), "action": "dead-lettered", "by": "engine"})
        score = datetime.fromisoformat(entry.last_failed_at).timestamp()
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(self._key("entries"), entry.id, entry.to_json())
        pipe.zadd(self._key("index"), {entry.id: score})
        pipe.zadd(self._key("open"), {entry.id: score})
        pipe.execute()
        self._audit("dead-lettered", entry, by="engine")
        return True

    def _record_key(self, entry: DeadLetter) -> str:
        return self._key("record", entry.flow, str(entry.record_id))

    def _fold(self, open_id: str, entry: DeadLetter) -> bool:
        """Bring the open entry ``open_id`` up to date with ``entry``; False when it is gone or
        no longer open."""
        raw = self.redis.hget(self._key("entries"), open_id)
        if raw is None:
            return False
        current = DeadLetter.from_json(raw)
        if current.status != "open":
            return False
        for name in (
            "task", "step", "task_id", "args", "kwargs", "error_class", "error_message",
            "traceback", "field_errors", "error_details", "attempts", "last_failed_at",
            "trace_id", "root_id", "queue", "chain", "payload",
        ):  # fmt: skip
            setattr(current, name, getattr(entry, name))
        current.repeats += 1
        current.audit.append(
            {"at": now_iso(), "action": "failed again", "by": "engine", "task_id": entry.task_id}
        )
        self._save(current)
        self._audit("failed again", current, by="engine", task_id=entry.task_id)
        return True

    def _save(self, entry: DeadLetter) -> None:
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(self._key("entries"), entry.id, entry.to_json())
        if entry.status == "open":
            pipe.zadd(
                self._key("open"),
                {entry.id: datetime.fromisoformat(entry.last_failed_at).timestamp()},
            )
        else:
            pipe.zrem(self._key("open"), entry.id)
        pipe.execute()
        if entry.status != "open" and entry.record_id is not None:
            self._forget_record(entry)

    def _forget_record(self, entry: DeadLetter) -> None:
        """The record's next failure opens a new entry (only if this one was its open entry)."""
        compare_and_delete(self._record_key(entry), entry.id, client=self.redis)

    def _audit(self, action: str, entry: DeadLetter, *, by: str, **extra: Any) -> None:
        record = {
            "at": now_iso(),
            "action": action,
            "entry": entry.id,
            "flow": entry.flow,
            "record_id": entry.record_id,
            "by": by,
            **extra,
        }
        pipe = self.redis.pipeline(transaction=False)
        pipe.lpush(self._key("audit"), json.dumps(record, default=str))
        pipe.ltrim(self._key("audit"), 0, AUDIT_KEEP - 1)
        pipe.execute()

    # -- reading -----------------------------------------------------------------------------

    def get(self, entry_id: str) -> DeadLetter:
        raw = self.redis.hget(self._key("entries"), entry_id)
        if raw is None:
            matches = [i for i in self.redis.hkeys(self._key("entries")) if i.startswith(entry_id)]
            if len(matches) != 1:
                raise EntryNotFound(entry_id)
            raw = self.redis.hget(self._key("entries"), matches[0])
            if raw is None:  # purged between the two reads
                raise EntryNotFound(entry_id)
        return DeadLetter.from_json(raw)

    def iter_entries(
        self,
        *,
        status: str | None = "open",
        flow: str | None = None,
        error: str | None = None,
        record_id: str | None = None,
        batch: int = 500,
    ) -> Iterator[DeadLetter]:
        """Entries newest first, filtered; ``error`` matches the class name or a message substring."""
        index = self._key("open") if status == "open" else self._key("index")
        start = 0
        while True:
            ids = self.redis.zrevrange(index, start, start + batch - 1)
            if not ids:
                return
            start += batch
            for raw in self.redis.hmget(self._key("entries"), ids):
                if raw is None:
                    continue
                entry = DeadLetter.from_json(raw)
                if status not in (None, "all") and entry.status != status:
                    continue
                if flow and entry.flow != flow:
                    continue
                if record_id and entry.record_id != record_id:
                    continue
                if error and error.lower() not in (
                    entry.error_class.lower() + " " + entry.error_message.lower()
                ):
                    continue
                yield entry

    def count(self, *, status: str = "open") -> int:
        if status == "open":
            return int(self.redis.zcard(self._key("open")))
        return int(self.redis.zcard(self._key("index")))

    def audit_log(self, limit: int = 100) -> list[dict[str, Any]]:
        return [json.loads(r) for r in self.redis.lrange(self._key("audit"), 0, limit - 1)]

    # -- acting ------------------------------------------------------------------------------

    def replay(
        self,
        entry_id: str,
        publish: Publisher,
        *,
        by: str,
        kwargs: dict[str, Any] | None = None,
        args: list[Any] | None = None,
        force: bool = False,
    ) -> str:
        """Publish the failed step again (edited arguments allowed); return the new task id.

        The entry stays open until the new message is published; then it is marked ``replayed``.
        """
        entry = self.get(entry_id)
        if entry.status != "open" and not force:
            raise EntryStateError(
                f"entry {entry.id} is {entry.status}; use force to replay it again"
            )
        new_args = entry.args if args is None else args
        new_kwargs = entry.kwargs if kwargs is None else kwargs
        edited = args is not None or kwargs is not None
        task_id = publish(
            entry.task,
            new_args,
            new_kwargs,
            queue=entry.queue,
            chain=entry.chain,
            trace_id=entry.trace_id,
            headers={"dlq_replay_of": entry.id},
        )
        at = now_iso()
        entry.status = "replayed"
        entry.replays.append({"at": at, "task_id": task_id, "by": by, "edited": edited})
        entry.audit.append(
            {"at": at, "action": "replayed", "by": by, "task_id": task_id, "edited": edited}
        )
        self._save(entry)
        self._audit("replayed", entry, by=by, task_id=task_id, edited=edited)
        return task_id

    def resolve(self, entry_id: str, *, by: str, note: str = "") -> DeadLetter:
        """Mark an entry handled without replaying it (fixed by hand, not needed any more)."""
        entry = self.get(entry_id)
        if entry.status == "resolved":
            raise EntryStateError(f"entry {entry.id} is already resolved")
        entry.status = "resolved"
        entry.audit.append({"at": now_iso(), "action": "resolved", "by": by, "note": note})
        self._save(entry)
        self._audit("resolved", entry, by=by, note=note)
        return entry

    def purge(
        self,
        *,
        by: str,
        status: str = "resolved",
        flow: str | None = None,
        older_than: datetime | None = None,
    ) -> int:
        """Delete entries in ``status`` (``resolved``, ``replayed``, ``open`` or ``all``)."""
        doomed = []
        for entry in self.iter_entries(status=status, flow=flow):
            if older_than and datetime.fromisoformat(entry.last_failed_at) >= older_than:
                continue
            doomed.append(entry)
        for entry in doomed:
            self._audit("purged", entry, by=by, status=entry.status)
            pipe = self.redis.pipeline(transaction=True)
            pipe.hdel(self._key("entries"), entry.id)
            pipe.zrem(self._key("index"), entry.id)
            pipe.zrem(self._key("open"), entry.id)
            pipe.execute()
            if entry.record_id is not None:
                self._forget_record(entry)
        return len(doomed)
