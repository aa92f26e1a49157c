"""Record storage: an in-memory mirror written through to SQLite.

Records are plain JSON-like dicts (raw values, no ``{"value": …}`` wrappers), one row per
top-level record. Reads come from memory so list queries and filters stay fast; every write is
committed to SQLite (WAL) before the lock is released, so data survives a restart. One
re-entrant lock serialises writers, which is what makes the auto-numbering and the
read-modify-write of a PUT safe under a threaded server.
"""

from __future__ import annotations

import copy
import json
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

Record = dict[str, Any]
Change = tuple[str, Record | None, Record | None]
ChangeListener = Callable[[list[Change]], None]
#: One value's records in a lookup index, by record id (removing one costs nothing).
Bucket = dict[str, Record]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    entity TEXT NOT NULL,
    id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (entity, id)
);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS settings (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (
    id TEXT PRIMARY KEY,
    note_id TEXT NOT NULL,
    filename TEXT NOT NULL,
    comment TEXT,
    versions INTEGER NOT NULL,
    data BLOB NOT NULL,
    UNIQUE (note_id, filename)
);
"""


class Store:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.lock = threading.RLock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._records: dict[str, dict[str, Record]] = {}
        self._seq: dict[str, dict[str, int]] = {}
        self._next_seq = 0
        self._depth = 0
        self._pending: list[Change] = []
        self._listeners: list[ChangeListener] = []
        #: Lazily built lookup indexes by (entity, field, nested fields or None), kept current
        #: by every write: folded value (or tuple of nested values) -> {record id: record}.
        self._indexes: dict[tuple[str, str, tuple[str, ...] | None], dict[Any, Bucket]] = {}
        #: (entity, id, record before) of each write of the open transaction, for a rollback.
        self._undo: list[tuple[str, str, Record | None]] = []
        self._load()

    def _load(self) -> None:
        rows = self._db.execute("SELECT entity, id, seq, data FROM records ORDER BY seq")
        for entity, rid, seq, data in rows:
            self._records.setdefault(entity, {})[rid] = json.loads(data)
            self._seq.setdefault(entity, {})[rid] = seq
            self._next_seq = max(self._next_seq, seq + 1)

    def add_listener(self, listener: ChangeListener) -> None:
        """Called after each committed transaction with its (entity, old, new) changes."""
        self._listeners.append(listener)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self.lock:
            outer = self._depth == 0
            if outer:
                self._db.execute("BEGIN")
                self._pending = []
                self._undo = []
            self._depth += 1
            try:
                yield
            except BaseException:
                self._depth -= 1
                if outer:
                    self._db.execute("ROLLBACK")
                    for entity, rid, old in reversed(self._undo):
                        if old is None:
                            self._records.get(entity, {}).pop(rid, None)
                        else:
                            self._records.setdefault(entity, {})[rid] = old
                    self._indexes = {}
                    self._pending = []
                raise
            self._depth -= 1
            if outer:
                self._db.execute("COMMIT")
                changes, self._pending = self._pending, []
                for listener in self._listeners:
                    listener(changes)

    def save(self, entity: str, record: Record) -> None:
        with self.transaction():
            rid = record["id"]
            old = self._records.get(entity, {}).get(rid)
            stored = copy.deepcopy(record)
            seq = self._seq.setdefault(entity, {}).get(rid)
            if seq is None:
                seq = self._next_seq
                self._next_seq += 1
                self._seq[entity][rid] = seq
            self._db.execute(
                "INSERT OR REPLACE INTO records (entity, id, seq, data) VALUES (?, ?, ?, ?)",
                (entity, rid, seq, json.dumps(stored, separators=(",", ":"))),
            )
            self._records.setdefault(entity, {})[rid] = stored
            self._undo.append((entity, rid, old))
            self._reindex(entity, old, stored)
            self._pending.append((entity, old, copy.deepcopy(stored)))

    def delete(self, entity: str, rid: str) -> None:
        with self.transaction():
            old = self._records.get(entity, {}).pop(rid, None)
            if old is not None:
                self._undo.append((entity, rid, old))
                self._reindex(entity, old, None)
            self._db.execute("DELETE FROM records WHERE entity = ? AND id = ?", (entity, rid))
            if old is not None:
                self._pending.append((entity, old, None))

    def get(self, entity: str, rid: str) -> Record | None:
        """A copy of one record by id (safe to modify)."""
        with self.lock:
            rec = self._records.get(entity, {}).get(rid)
            return copy.deepcopy(rec) if rec is not None else None

    def peek(self, entity: str, rid: str) -> Record | None:
        """The stored record itself, for read-only use under the lock."""
        return self._records.get(entity, {}).get(rid)

    def all(self, entity: str) -> list[Record]:
        """Stored records in insertion order; callers must not modify them."""
        with self.lock:
            return list(self._records.get(entity, {}).values())

    def find(self, entity: str, **values: Any) -> Record | None:
        """The first record whose top-level fields equal ``values`` (case-insensitive strings)."""
        wanted = {k: _fold(v) for k, v in values.items()}
        with self.lock:
            # The narrowest index (OrderNbr, not OrderType, of a sales order), then the rest.
            buckets = (self._index(entity, k, None).get(wanted[k], {}) for k in wanted)
            for rec in self._in_order(entity, min(buckets, key=len)):
                if all(_fold(rec.get(k)) == wanted[k] for k in wanted):
                    return copy.deepcopy(rec)
        return None

    def referencing(self, entity: str, rows: str, **values: Any) -> list[Record]:
        """Records of ``entity`` with a row in their list ``rows`` whose fields equal ``values``
        (case-insensitive strings), in insertion order; callers must not modify them.

        What a payment's ``OrdersToApply`` or a shipment's ``Details`` say about one sales
        order, found without reading every payment or shipment.
        """
        fields = tuple(values)
        wanted = tuple(_fold(values[f]) for f in fields)
        with self.lock:
            return self._in_order(entity, self._index(entity, rows, fields).get(wanted, {}))

    def may_equal(self, entity: str, hints: Sequence[tuple[str, Iterable[str]]]) -> list[Record]:
        """Records that may hold, in a top-level field, one of the texts given for it (folded:
        lower case, no trailing spaces), in insertion order; callers must not modify them.

        ``hints``: (field, texts) pairs that must all hold; the narrowest one is read. A
        superset for a filter to evaluate: the records holding one of the texts, and every
        record whose value is not text at all (a filter may still compare it as equal).
        """
        with self.lock:
            choices = []
            for field, texts in hints:
                index = self._index(entity, field, None)
                keys = {_fold(t) for t in texts} | {_NOT_TEXT}
                choices.append([index[k] for k in keys if k in index])
            found: Bucket = {}
            for bucket in min(choices, key=lambda buckets: sum(map(len, buckets))):
                found.update(bucket)
            return self._in_order(entity, found)

    def _in_order(self, entity: str, bucket: Bucket) -> list[Record]:
        """The records of an index bucket in insertion order, as a scan would meet them."""
        if len(bucket) < 2:
            return list(bucket.values())
        seq = self._seq.get(entity, {})
        return [bucket[rid] for rid in sorted(bucket, key=lambda rid: seq.get(rid, 0))]

    def _index(self, entity: str, field: str, nested: tuple[str, ...] | None) -> dict[Any, Bucket]:
        """Records by the folded value of ``field``, or with ``nested`` by the folded values of
        those fields in each row of the list ``field``; built on first use, then kept current."""
        key = (entity, field, nested)
        index = self._indexes.get(key)
        if index is None:
            index = {}
            for rid, rec in self._records.get(entity, {}).items():
                for value in _index_keys(rec, field, nested):
                    index.setdefault(value, {})[rid] = rec
            self._indexes[key] = index
        return index

    def _reindex(self, entity: str, old: Record | None, new: Record | None) -> None:
        """Keep the built indexes of ``entity`` current: a write costs its own record, not a
        rebuild over the whole entity (which made every write slower as records piled up)."""
        for (indexed, field, nested), index in self._indexes.items():
            if indexed != entity:
                continue
            if old is not None:
                for value in _index_keys(old, field, nested):
                    bucket = index.get(value)
                    if bucket is not None:
                        bucket.pop(old["id"], None)
                        if not bucket:
                            del index[value]
            if new is not None:
                for value in _index_keys(new, field, nested):
                    index.setdefault(value, {})[new["id"]] = new

    def next_number(self, counter: str, width: int = 6, prefix: str = "") -> str:
        with self.transaction():
            row = self._db.execute(
                "SELECT value FROM counters WHERE name = ?", (counter,)
            ).fetchone()
            value = (row[0] if row else 0) + 1
            self._db.execute(
                "INSERT OR REPLACE INTO counters (name, value) VALUES (?, ?)", (counter, value)
            )
        return f"{prefix}{value:0{width}d}"

    def get_setting(self, name: str, default: Any = None) -> Any:
        with self.lock:
            row = self._db.execute("SELECT value FROM settings WHERE name = ?", (name,)).fetchone()
        return json.loads(row[0]) if row else default

    def put_setting(self, name: str, value: Any) -> None:
        with self.lock:
            self._db.execute(
                "INSERT OR REPLACE INTO settings (name, value) VALUES (?, ?)",
                (name, json.dumps(value)),
            )

    def put_file(self, note_id: str, filename: str, data: bytes, comment: str | None) -> str:
        """Attach a file to a record; the same name again adds a version under the same id."""
        with self.lock:
            row = self._db.execute(
                "SELECT id, versions FROM files WHERE note_id = ? AND filename = ?",
                (note_id, filename),
            ).fetchone()
            if row:
                self._db.execute(
                    "UPDATE files SET data = ?, comment = ?, versions = ? WHERE id = ?",
                    (data, comment, row[1] + 1, row[0]),
                )
                return str(row[0])
            file_id = str(uuid.uuid4())
            self._db.execute(
                "INSERT INTO files (id, note_id, filename, comment, versions, data) VALUES (?, ?, ?, ?, 1, ?)",
                (file_id, note_id, filename, comment, data),
            )
            return file_id

    def get_file(self, file_id: str) -> tuple[str, bytes] | None:
        with self.lock:
            row = self._db.execute(
                "SELECT filename, data FROM files WHERE id = ?", (file_id,)
            ).fetchone()
        return (row[0], bytes(row[1])) if row else None

    def files_of(self, note_id: str) -> list[dict[str, Any]]:
        with self.lock:
            rows = self._db.execute(
                "SELECT id, filename, comment FROM files WHERE note_id = ? ORDER BY rowid",
                (note_id,),
            ).fetchall()
        return [{"id": r[0], "filename": r[1], "comment": r[2]} for r in rows]

    def clear(self) -> None:
        """Drop every record and counter (settings such as licence limits are kept)."""
        with self.lock:
            self._db.execute("DELETE FROM records")
            self._db.execute("DELETE FROM counters")
            self._db.execute("DELETE FROM files")
            self._records = {}
            self._seq = {}
            self._indexes = {}

    def close(self) -> None:
        with self.lock:
            self._db.close()


def _fold(value: Any) -> Any:
    return value.rstrip().lower() if isinstance(value, str) else value


#: The index key under which, besides its own value, a record whose value is not text is kept.
_NOT_TEXT = ("not text",)


def _index_keys(record: Record, field: str, nested: tuple[str, ...] | None) -> set[Any]:
    """The keys one record has in the index of ``field`` (see ``Store._index``)."""
    if nested is None:
        value = record.get(field)
        return {_fold(value)} if isinstance(value, str) else {value, _NOT_TEXT}
    rows = record.get(field) or []
    return {tuple(_fold(row.get(f)) for f in nested) for row in rows if isinstance(row, dict)}
