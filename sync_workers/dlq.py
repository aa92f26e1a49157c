"""The dead-letter queue: every permanent or exhausted failure, kept in Redis until acted on.

An entry holds what an operator needs at 3 a.m.: the flow and record, the task and step, the
arguments and payload, the error with its field-level reasons and traceback, attempts, first and last
failure times, the trace id, and an audit trail. Entries are never removed by a replay: the
replacement task is published first, and only then is the entry marked ``replayed``.

Customer data stays only as long as it is needed. When an entry is resolved, when its replay
went through (:mod:`sync_workers.dlq_upkeep` reads that from the ledger), or when it has held
its data for the retention (``DLQ_RETENTION_DAYS`` after its last failure; an open entry then
becomes ``expired``), its arguments, payload, upstream answers, traceback and the rest of its
chain are dropped (:func:`drop_data`); the record id, task, step, error class, the message and
field reasons with personal values masked, times, replays and audit stay. An entry without data
is deleted the same retention later.

Keys (all under the configured prefix):
``dlq:entries`` hash id → JSON; ``dlq:index`` zset id → last failure time (every entry);
``dlq:open`` zset of open entries; ``dlq:replayed`` set of replayed entries still holding their
data (waiting for their record to go through); ``dlq:seen:<task id>`` dedupes the two failure
paths of one task; ``dlq:record:<flow>:<record id>`` the open entry of a record; ``dlq:audit``
list of every action; ``dlq:changed`` a random token replaced by every write of an entry, so a
reader can tell that nothing changed since it last looked (:meth:`DeadLetterQueue.changed`).

A record has at most one open entry: when another task for the same record fails (a second
delivery of the order, a poll's restart), that entry is brought up to date with the newest
failure and counts it in ``repeats``, so an operator sees and replays each stuck record once.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol, cast

import redis

from sync_workers.locks import compare_and_delete
from sync_workers.observability.scrubbing import personal_values, scrub_text

AUDIT_KEEP = 50_000
SEEN_TTL = 7 * 24 * 3600
#: Attempts of a change that lost a race with another writer of the entries (WATCH).
CHANGE_ATTEMPTS = 20
#: The longest one replay holds its entry (check, publish, mark): far above a publish, which
#: takes milliseconds, so only a replay whose process died leaves the entry held that long.
REPLAY_LEASE_SECONDS = 120


class EntryNotFound(KeyError):
    pass


class EntryStateError(Exception):
    pass


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _timestamp(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


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
    #: When the arguments, payload, upstream answers and traceback were dropped (None: kept).
    data_dropped_at: str | None = None

    @property
    def holds_data(self) -> bool:
        return self.data_dropped_at is None

    def to_json(self) -> str:
        return json.dumps(asdict(self), default=str, ensure_ascii=False)

    @classmethod
    def from_json(cls, raw: str) -> DeadLetter:
        data = json.loads(raw)
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


def drop_data(entry: DeadLetter, at: str) -> None:
    """Drop what the step failed on, keep what says what failed.

    Gone: arguments, payload, upstream answers (``error_details``), traceback and the rest of the
    chain. Kept: record id, task, step, error class, times, replays, audit; the message and the
    field reasons are kept with personal values masked: the entry's own (every value under a
    personal key of its arguments and payload) and any e-mail, phone number or street address.
    """
    known = personal_values(
        [entry.args, entry.kwargs, entry.payload, entry.error_details, entry.chain]
    )
    entry.error_message = scrub_text(entry.error_message, known)
    entry.field_errors = {
        scrub_text(str(path), known): scrub_text(str(reason), known)
        for path, reason in (entry.field_errors or {}).items()
    }
    entry.args, entry.kwargs, entry.payload = [], {}, None
    entry.error_details, entry.traceback, entry.chain = {}, "", []
    entry.data_dropped_at = at


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
        pipe = self.redis.pipeline(transaction=True)
        self._stage(pipe, entry)
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
        self._stage(pipe, entry)
        pipe.execute()
        if entry.status != "open" and entry.record_id is not None:
            self._forget_record(entry)

    def _stage(self, pipe: Any, entry: DeadLetter) -> None:
        """Queue the writes that store ``entry`` and keep the indexes in step with it."""
        score = _timestamp(entry.last_failed_at)
        pipe.hset(self._key("entries"), entry.id, entry.to_json())
        pipe.zadd(self._key("index"), {entry.id: score})
        if entry.status == "open":
            pipe.zadd(self._key("open"), {entry.id: score})
        else:
            pipe.zrem(self._key("open"), entry.id)
        if entry.status == "replayed" and entry.holds_data:
            pipe.sadd(self._key("replayed"), entry.id)
        else:
            pipe.srem(self._key("replayed"), entry.id)
        pipe.set(self._key("changed"), uuid.uuid4().hex)

    def _change(self, entry_id: str, change: Callable[[DeadLetter], bool]) -> DeadLetter | None:
        """Apply ``change`` to the stored entry and save it; the changed entry, or None when the
        entry is gone or ``change`` returned False (nothing to do). Read and write are one
        optimistic transaction: when another writer saves an entry in between, it starts over
        from what that writer saved."""
        key = self._key("entries")
        for _ in range(CHANGE_ATTEMPTS):
            with self.redis.pipeline(transaction=True) as pipe:
                try:
                    pipe.watch(key)
                    raw = cast(str | None, pipe.hget(key, entry_id))  # WATCH: runs at once
                    if raw is None:
                        return None
                    entry = DeadLetter.from_json(raw)
                    if not change(entry):
                        return None
                    pipe.multi()
                    self._stage(pipe, entry)
                    pipe.execute()
                except redis.WatchError:
                    continue
            if entry.status != "open" and entry.record_id is not None:
                self._forget_record(entry)
            return entry
        raise redis.WatchError(f"dead letter {entry_id} kept changing; try again")

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

    def changed(self) -> str | None:
        """A token that every write of an entry replaces (None before the first write): while
        it stays the same, no entry was added, changed or deleted."""
        value = self.redis.get(self._key("changed"))
        return None if value is None else str(value)

    def open_index(self) -> list[tuple[str, float]]:
        """Every open entry's id and last failure time (epoch seconds), oldest first, in one
        read of the index (no entry is read)."""
        pairs = self.redis.zrange(self._key("open"), 0, -1, withscores=True)
        return [(str(entry_id), float(score)) for entry_id, score in pairs]

    def recent_ids(self, *, only_open: bool = True, start: int = 0, count: int = 50) -> list[str]:
        """Ids of a page of entries, newest failure first: the open ones, or every one."""
        index = self._key("open") if only_open else self._key("index")
        return [str(i) for i in self.redis.zrevrange(index, start, start + count - 1)]

    def get_many(self, ids: Sequence[str]) -> list[DeadLetter]:
        """The entries of ``ids`` still stored, in that order, in one read."""
        if not ids:
            return []
        raws = self.redis.hmget(self._key("entries"), list(ids))
        return [DeadLetter.from_json(raw) for raw in raws if raw is not None]

    def open_entry_of(self, flow: str, record_id: str) -> str | None:
        """The id of the record's open entry, if it has one."""
        value = self.redis.get(self._key("record", flow, record_id))
        return None if value is None else str(value)

    def audit_log(self, limit: int = 100) -> list[dict[str, Any]]:
        return [json.loads(r) for r in self.redis.lrange(self._key("audit"), 0, limit - 1)]

    def awaiting_replay(self) -> list[DeadLetter]:
        """Replayed entries still holding their data: their record has not gone through yet."""
        ids = sorted(self.redis.smembers(self._key("replayed")))
        if not ids:
            return []
        found = []
        for entry_id, raw in zip(ids, self.redis.hmget(self._key("entries"), ids), strict=True):
            if raw is None:
                self.redis.srem(self._key("replayed"), entry_id)
                continue
            found.append(DeadLetter.from_json(raw))
        return found

    def failed_before(
        self, moment: datetime, *, holding_data: bool | None = None
    ) -> list[DeadLetter]:
        """Entries whose last failure is before ``moment``, oldest first; ``holding_data``
        True or False keeps only the entries that still hold their data, or no longer do."""
        ids = self.redis.zrangebyscore(self._key("index"), "-inf", f"({moment.timestamp()}")
        found = []
        for start in range(0, len(ids), 500):
            batch = ids[start : start + 500]
            for raw in self.redis.hmget(self._key("entries"), batch):
                if raw is None:
                    continue
                entry = DeadLetter.from_json(raw)
                if _timestamp(entry.last_failed_at) >= moment.timestamp():
                    continue
                if holding_data is not None and entry.holds_data != holding_data:
                    continue
                found.append(entry)
        return found

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
        from_start: bool = False,
    ) -> str:
        """Publish the failed step again (edited arguments allowed); return the new task id.

        ``from_start`` publishes the flow's poll for the record instead (``tasks.<flow>.poll``
        with ``ids=[record]``): its whole chain runs again from the source record, which also
        works once the entry's arguments are dropped. Open and expired entries are replayed;
        others only with ``force``. The entry stays as it is until the new message is
        published; then it is marked ``replayed``.

        One replay of an entry runs at a time, wherever it is started: the check, the publish
        and the mark happen under the entry's replay lease (``dlq:replaying:<id>``, at most
        ``REPLAY_LEASE_SECONDS``), and a replay that finds the lease taken is refused
        (``EntryStateError``) without publishing anything.
        """
        entry_id = self.get(entry_id).id
        lease, token = self._key("replaying", entry_id), uuid.uuid4().hex
        if not self.redis.set(lease, token, nx=True, ex=REPLAY_LEASE_SECONDS):
            raise EntryStateError(f"entry {entry_id} is being replayed right now; try again")
        try:
            return self._replay(entry_id, publish, by, kwargs, args, force, from_start)
        finally:
            compare_and_delete(lease, token, client=self.redis)

    def _replay(
        self,
        entry_id: str,
        publish: Publisher,
        by: str,
        kwargs: dict[str, Any] | None,
        args: list[Any] | None,
        force: bool,
        from_start: bool,
    ) -> str:
        """:meth:`replay`, under the entry's replay lease."""
        entry = self.get(entry_id)
        if entry.status not in ("open", "expired") and not force:
            raise EntryStateError(
                f"entry {entry.id} is {entry.status}; use force to replay it again"
            )
        edited = args is not None or kwargs is not None
        if from_start:
            if not entry.record_id:
                raise EntryStateError(f"entry {entry.id} has no record id: cannot rerun the chain")
            task, new_args, new_kwargs = f"tasks.{entry.flow}.poll", [], {"ids": [entry.record_id]}
            queue, chain = None, []
        elif not entry.holds_data and not edited:
            raise EntryStateError(
                f"entry {entry.id} no longer holds its arguments (dropped at "
                f"{entry.data_dropped_at}); replay it from the start"
            )
        else:
            task, queue, chain = entry.task, entry.queue, entry.chain
            new_args = entry.args if args is None else args
            new_kwargs = entry.kwargs if kwargs is None else kwargs
        # The replay's own failure opens a new entry (``replay_of`` this one) rather than
        # folding into this one, however fast the worker is; the pointer is back if publishing
        # fails.
        released = entry.status == "open" and entry.record_id is not None
        if released:
            self._forget_record(entry)
        at = now_iso()
        try:
            task_id = publish(
                task,
                new_args,
                new_kwargs,
                queue=queue,
                chain=chain,
                trace_id=entry.trace_id,
                headers={"dlq_replay_of": entry.id},
            )
        except BaseException:
            if released:
                self.redis.set(self._record_key(entry), entry.id, nx=True)
            raise
        done = {"task_id": task_id, "edited": edited, "from_start": from_start}

        def mark(current: DeadLetter) -> bool:
            current.status = "replayed"
            current.replays.append({"at": at, "by": by, **done})
            current.audit.append({"at": at, "action": "replayed", "by": by, **done})
            return True

        marked = self._change(entry.id, mark)
        self._audit("replayed", marked or entry, by=by, **done)
        return task_id

    def resolve(self, entry_id: str, *, by: str, note: str = "") -> DeadLetter:
        """Mark an entry handled without replaying it (fixed by hand, not needed any more); its
        data is dropped."""
        entry_id = self.get(entry_id).id
        at = now_iso()

        def mark(current: DeadLetter) -> bool:
            if current.status == "resolved":
                raise EntryStateError(f"entry {current.id} is already resolved")
            current.status = "resolved"
            current.audit.append({"at": at, "action": "resolved", "by": by, "note": note})
            self._drop_data(current, at, reason="resolved")
            return True

        entry = self._change(entry_id, mark)
        if entry is None:
            raise EntryNotFound(entry_id)
        self._audit("resolved", entry, by=by, note=note)
        self._audit_dropped(entry, at, "resolved")
        return entry

    def replay_went_through(
        self, entry_id: str, *, task_id: str | None, started_at: str
    ) -> DeadLetter | None:
        """The entry's record ran through after its replay (``task_id``, started at
        ``started_at``): its data is dropped. None when it was no longer waiting for that."""
        at = now_iso()
        evidence = {"task_id": task_id, "run_started_at": started_at}

        def mark(current: DeadLetter) -> bool:
            if current.status != "replayed" or not current.holds_data:
                return False
            current.audit.append(
                {"at": at, "action": "replay went through", "by": "engine", **evidence}
            )
            self._drop_data(current, at, reason="replay went through")
            return True

        entry = self._change(entry_id, mark)
        if entry is not None:
            self._audit("replay went through", entry, by="engine", **evidence)
            self._audit_dropped(entry, at, "replay went through")
        return entry

    def expire(self, failed_before: datetime, *, by: str = "engine") -> list[DeadLetter]:
        """Drop the data of every entry still holding it whose last failure is before
        ``failed_before``; an open one becomes ``expired`` (it can still be replayed from the
        start). The entries expired."""
        at = now_iso()
        expired = []
        for candidate in self.failed_before(failed_before, holding_data=True):

            def mark(current: DeadLetter) -> bool:
                if not current.holds_data or (
                    _timestamp(current.last_failed_at) >= failed_before.timestamp()
                ):
                    return False  # handled, or failed again, since it was read
                if current.status == "open":
                    current.status = "expired"
                current.audit.append({"at": at, "action": "expired", "by": by})
                self._drop_data(current, at, reason="expired")
                return True

            entry = self._change(candidate.id, mark)
            if entry is not None:
                self._audit("expired", entry, by=by, status=entry.status)
                self._audit_dropped(entry, at, "expired")
                expired.append(entry)
        return expired

    def delete_without_data(
        self, dropped_before: datetime, *, by: str = "engine"
    ) -> list[DeadLetter]:
        """Delete the entries whose data was dropped before ``dropped_before``."""
        doomed = [
            entry
            for entry in self.failed_before(dropped_before, holding_data=False)
            if entry.data_dropped_at is not None
            and _timestamp(entry.data_dropped_at) < dropped_before.timestamp()
        ]
        for entry in doomed:
            self._delete(entry, action="deleted", by=by)
        return doomed

    def purge(
        self,
        *,
        by: str,
        status: str = "resolved",
        flow: str | None = None,
        older_than: datetime | None = None,
    ) -> int:
        """Delete entries in ``status`` (``resolved``, ``replayed``, ``expired``, ``open`` or
        ``all``)."""
        doomed = []
        for entry in self.iter_entries(status=status, flow=flow):
            if older_than and datetime.fromisoformat(entry.last_failed_at) >= older_than:
                continue
            doomed.append(entry)
        for entry in doomed:
            self._delete(entry, action="purged", by=by)
        return len(doomed)

    def _drop_data(self, entry: DeadLetter, at: str, *, reason: str) -> None:
        if entry.holds_data:
            drop_data(entry, at)
            entry.audit.append({"at": at, "action": "data dropped", "by": "engine", "why": reason})

    def _audit_dropped(self, entry: DeadLetter, at: str, reason: str) -> None:
        """Note in the queue's audit that ``entry`` lost its data in the change made ``at``."""
        if entry.data_dropped_at == at:
            self._audit("data dropped", entry, by="engine", why=reason)

    def _delete(self, entry: DeadLetter, *, action: str, by: str) -> None:
        self._audit(action, entry, by=by, status=entry.status)
        pipe = self.redis.pipeline(transaction=True)
        pipe.hdel(self._key("entries"), entry.id)
        pipe.zrem(self._key("index"), entry.id)
        pipe.zrem(self._key("open"), entry.id)
        pipe.srem(self._key("replayed"), entry.id)
        pipe.set(self._key("changed"), uuid.uuid4().hex)
        pipe.execute()
        if entry.record_id is not None:
            self._forget_record(entry)
