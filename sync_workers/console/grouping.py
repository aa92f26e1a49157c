"""Open dead letters grouped by error pattern, without reading every entry on every request.

A pattern is the flow, the step, the error class and the message with ids and numbers taken
out (and personal values masked), so "order 1042 is invalid: … SKU 'X-1'" and "order 1077 is
invalid: … SKU 'X-1'" fall in one group.

The queue keeps open entries in a sorted set scored by their last failure time (one read gives
every open id and its score) and the entries themselves in a hash. The console keeps beside
them, under its own keys:

* ``console:dlq:sig`` hash: entry id → ``<score>|<first failure>|<group>|<unmapped values>``,
  computed once per entry and again only when its score changes (it failed again);
* ``console:dlq:patterns`` hash: group → its flow, step, error class and pattern.

A request reads the open set and the signatures (two reads, a few milliseconds for 10,000
entries), reads only the entries it has not seen yet, within a time budget (the rest on the
next request; the page says how many wait), and forgets the signatures of entries no longer
open. The console's start indexes everything there is before it serves.

While the queue's change token (:meth:`DeadLetterQueue.changed`) stays the same, no entry was
added, changed or deleted: a complete snapshot is then reused, in this process, without
reading anything else.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sync_workers.dlq import DeadLetter, DeadLetterQueue
from sync_workers.observability.scrubbing import FILTERED, personal_values, scrub_text

#: Seconds a request may spend reading entries it has not grouped yet.
REQUEST_BUDGET_SECONDS = 0.1
BATCH = 100
PATTERN_LIMIT = 240

_UUID = re.compile(
    r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"
)
_HEX_ID = re.compile(r"\b(?=[0-9a-fA-F]*\d)[0-9a-fA-F]{12,}\b")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_SPACES = re.compile(r"\s+")
#: Field reasons naming a value no mapping covers (``sync_workers.mapping``, ``validation``).
_UNMAPPED = (
    re.compile(r"^unmapped (?P<kind>[a-z][a-z ]*?) (?P<value>'.*'|\".*\")$"),
    re.compile(r"^SKU (?P<value>'.*'|\".*\") is not known in Acumatica and not mapped$"),
    re.compile(r"^unknown (?P<kind>state) (?P<value>'.*'|\".*\") for \w+$"),
)


def pattern_of(message: str, known: Iterable[str] = ()) -> str:
    """The message with personal values masked, then ids and numbers taken out."""
    text = scrub_text(message, known)
    text = _UUID.sub("<id>", text)
    text = _HEX_ID.sub("<id>", text)
    text = _NUMBER.sub("#", text)
    text = _SPACES.sub(" ", text).strip()
    return text if len(text) <= PATTERN_LIMIT else text[: PATTERN_LIMIT - 1] + "…"


def group_key(flow: str, step: str, error_class: str, pattern: str) -> str:
    text = "\x00".join((flow, step, error_class, pattern))
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:16]


def unmapped_values(entry: DeadLetter, known: Iterable[str] = ()) -> list[tuple[str, str]]:
    """``(kind, value)`` of every value the entry's field errors say no mapping covers."""
    found = []
    for reason in (entry.field_errors or {}).values():
        for rule in _UNMAPPED:
            match = rule.match(str(reason).strip())
            if match is None:
                continue
            value = match["value"][1:-1]
            if value and scrub_text(value, known) == value and FILTERED not in value:
                found.append((match.groupdict().get("kind") or "SKU", value))
            break
    return found


@dataclass
class Group:
    key: str
    flow: str
    step: str
    error_class: str
    pattern: str
    #: (entry id, last failure) of its open entries, newest first.
    members: list[tuple[str, float]] = field(default_factory=list)
    first_seen: float = 0.0

    @property
    def count(self) -> int:
        return len(self.members)

    @property
    def last_seen(self) -> float:
        return self.members[0][1] if self.members else 0.0

    def ids(self, *, as_of: float | None = None) -> list[str]:
        """Its entries, newest first; ``as_of``: only those whose last failure is not later."""
        return [i for i, score in self.members if as_of is None or score <= as_of]


@dataclass
class Snapshot:
    groups: list[Group]
    #: Open entries not grouped yet (the next request goes on).
    pending: int
    #: (kind, value) → (count, flows) over the open entries grouped.
    unmapped: dict[tuple[str, str], tuple[int, set[str]]]

    def group(self, key: str) -> Group | None:
        return next((g for g in self.groups if g.key == key), None)

    def per_flow(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for group in self.groups:
            counts[group.flow] = counts.get(group.flow, 0) + group.count
        return counts


def _signature(entry: DeadLetter) -> tuple[str, dict[str, str], list[tuple[str, str]]]:
    known = personal_values([entry.args, entry.kwargs, entry.payload, entry.error_details])
    pattern = pattern_of(entry.error_message, known)
    key = group_key(entry.flow, entry.step, entry.error_class, pattern)
    meta = {"flow": entry.flow, "step": entry.step, "error_class": entry.error_class}
    return key, {**meta, "pattern": pattern}, unmapped_values(entry, known)


def _first_failure(entry: DeadLetter) -> float:
    try:
        return datetime.fromisoformat(entry.first_failed_at).timestamp()
    except (TypeError, ValueError):
        return 0.0


#: Per key prefix: the queue's change token and the complete snapshot made under it.
_LAST: dict[str, tuple[str, Snapshot]] = {}


class Grouping:
    def __init__(self, queue: DeadLetterQueue) -> None:
        self.queue = queue
        self.redis = queue.redis
        self.sig_key = queue.prefix + "console:dlq:sig"
        self.pattern_key = queue.prefix + "console:dlq:patterns"

    def snapshot(self, *, budget: float | None = REQUEST_BUDGET_SECONDS) -> Snapshot:
        """The groups as they are now; ``budget`` bounds the time spent grouping new entries
        (None: group every one)."""
        token = self.queue.changed()
        last = _LAST.get(self.queue.prefix)
        if token is not None and last is not None and last[0] == token:
            return last[1]
        made = self._snapshot(budget)
        if token is not None and made.pending == 0:
            _LAST[self.queue.prefix] = (token, made)
        return made

    def _snapshot(self, budget: float | None) -> Snapshot:
        open_index = self.queue.open_index()
        signatures: dict[str, str] = self.redis.hgetall(self.sig_key) or {}
        scores = dict(open_index)
        stale = [
            entry_id
            for entry_id, score in open_index
            if signatures.get(entry_id, "").split("|", 1)[0] != repr(score)
        ]
        stale.reverse()  # the newest first: they are what an operator is looking for
        deadline = None if budget is None else time.perf_counter() + budget
        done = 0
        while done < len(stale) and (deadline is None or time.perf_counter() < deadline):
            batch = stale[done : done + BATCH]
            signatures.update(self._index(batch, scores))
            done += len(batch)
        gone = [entry_id for entry_id in signatures if entry_id not in scores]
        for start in range(0, len(gone), 1000):
            self.redis.hdel(self.sig_key, *gone[start : start + 1000])
        return self._assemble(open_index, signatures, pending=len(stale) - done)

    def _index(self, ids: list[str], scores: dict[str, float]) -> dict[str, str]:
        made: dict[str, str] = {}
        patterns: dict[str, str] = {}
        for entry in self.queue.get_many(ids):
            key, meta, unmapped = _signature(entry)
            values = json.dumps(unmapped, ensure_ascii=False) if unmapped else ""
            made[entry.id] = f"{scores[entry.id]!r}|{_first_failure(entry)!r}|{key}|{values}"
            patterns[key] = json.dumps(meta, ensure_ascii=False)
        if made:
            pipe = self.redis.pipeline(transaction=False)
            mapping: dict[str | bytes, bytes | float | int | str] = dict(made.items())
            pipe.hset(self.sig_key, mapping=mapping)
            for key, meta_json in patterns.items():
                pipe.hsetnx(self.pattern_key, key, meta_json)
            pipe.execute()
        return made

    def _assemble(
        self, open_index: list[tuple[str, float]], signatures: dict[str, str], *, pending: int
    ) -> Snapshot:
        members: dict[str, list[tuple[str, float]]] = {}
        first: dict[str, float] = {}
        unmapped_ids: dict[str, list[tuple[str, str]]] = {}
        for entry_id, score in reversed(open_index):  # newest first
            signature = signatures.get(entry_id)
            if signature is None:
                continue
            stored_score, first_at, key, values = signature.split("|", 3)
            if stored_score != repr(score):
                continue  # failed again since: regrouped on a later request
            members.setdefault(key, []).append((entry_id, score))
            first_seen = float(first_at) or score
            first[key] = min(first.get(key, first_seen), first_seen)
            if values:
                unmapped_ids[entry_id] = [(str(k), str(v)) for k, v in json.loads(values)]
        metas = self.redis.hmget(self.pattern_key, list(members)) if members else []
        groups = []
        flow_of: dict[str, str] = {}
        for (key, ids), raw in zip(members.items(), metas, strict=True):
            meta: dict[str, Any] = json.loads(raw) if raw else {}
            flow = str(meta.get("flow", "?"))
            for entry_id, _ in ids:
                flow_of[entry_id] = flow
            groups.append(
                Group(
                    key=key,
                    flow=flow,
                    step=str(meta.get("step", "?")),
                    error_class=str(meta.get("error_class", "?")),
                    pattern=str(meta.get("pattern", "")),
                    members=ids,
                    first_seen=first[key],
                )
            )
        groups.sort(key=lambda g: (-g.count, -g.last_seen))
        unmapped: dict[tuple[str, str], tuple[int, set[str]]] = {}
        for entry_id, pairs in unmapped_ids.items():
            for value in set(pairs):
                count, flows = unmapped.get(value, (0, set()))
                flows.add(flow_of.get(entry_id, "?"))
                unmapped[value] = (count + 1, flows)
        return Snapshot(groups, pending, unmapped)
