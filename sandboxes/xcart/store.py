"""SQLite storage of the X-Cart sandbox: one connection, one lock, JSON documents per row.

Columns hold what filters and sorts need; the rest of each record is a JSON document. Every
read and write runs under one lock, so the threaded server never sees a half-applied change
(checkout's stock check and decrement are one transaction).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS products (
    id INTEGER PRIMARY KEY AUTOINCREMENT, sku TEXT NOT NULL UNIQUE, name TEXT NOT NULL,
    price REAL NOT NULL, arrival INTEGER NOT NULL, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS variants (
    id INTEGER PRIMARY KEY AUTOINCREMENT, product_id INTEGER NOT NULL, sku TEXT,
    doc TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS variants_product ON variants (product_id);
CREATE INDEX IF NOT EXISTS variants_sku ON variants (sku);
CREATE TABLE IF NOT EXISTS profiles (
    id INTEGER PRIMARY KEY AUTOINCREMENT, login TEXT NOT NULL, added INTEGER NOT NULL,
    first_login INTEGER NOT NULL DEFAULT 0, snapshot INTEGER NOT NULL DEFAULT 0,
    doc TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS profiles_login ON profiles (login);
-- logins compare ignoring case: without this index each checkout read every profile, order
-- snapshots included, so placing orders got slower as orders piled up
CREATE INDEX IF NOT EXISTS profiles_login_nocase ON profiles (login COLLATE NOCASE, snapshot);
CREATE TABLE IF NOT EXISTS addresses (
    id INTEGER PRIMARY KEY AUTOINCREMENT, profile_id INTEGER NOT NULL, doc TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS addresses_profile ON addresses (profile_id);
CREATE TABLE IF NOT EXISTS orders (
    id INTEGER PRIMARY KEY AUTOINCREMENT, order_number TEXT NOT NULL UNIQUE,
    date INTEGER NOT NULL, renew INTEGER NOT NULL, pay TEXT NOT NULL, ship TEXT NOT NULL,
    login TEXT NOT NULL, doc TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS orders_date ON orders (date);
CREATE INDEX IF NOT EXISTS orders_renew ON orders (renew);
CREATE TABLE IF NOT EXISTS transactions (
    id INTEGER PRIMARY KEY AUTOINCREMENT, order_id INTEGER NOT NULL, doc TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS transactions_order ON transactions (order_id);
CREATE TABLE IF NOT EXISTS history (
    id INTEGER PRIMARY KEY AUTOINCREMENT, order_id INTEGER NOT NULL, doc TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS history_order ON history (order_id);
CREATE TABLE IF NOT EXISTS tracking (
    id INTEGER PRIMARY KEY AUTOINCREMENT, order_id INTEGER NOT NULL, doc TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS tracking_order ON tracking (order_id);
"""

TABLES = (
    "products",
    "variants",
    "profiles",
    "addresses",
    "orders",
    "transactions",
    "history",
    "tracking",
)


class Store:
    """Thread-safe access to the sandbox database at ``path``."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._conn.row_factory = sqlite3.Row
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.executescript(SCHEMA)
        self._depth = 0

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """One atomic unit of work (re-entrant; only the outermost level commits)."""
        with self._lock:
            outer = self._depth == 0
            if outer:
                self._conn.execute("BEGIN IMMEDIATE")
            self._depth += 1
            try:
                yield self._conn
            except BaseException:
                self._depth -= 1
                if outer:
                    self._conn.execute("ROLLBACK")
                raise
            self._depth -= 1
            if outer:
                self._conn.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def wipe(self) -> None:
        with self.tx() as db:
            for table in (*TABLES, "meta"):
                db.execute(f"DELETE FROM {table}")
            db.execute("DELETE FROM sqlite_sequence")

    # --- meta values and sequences -------------------------------------------------------

    def get_meta(self, key: str, default: Any = None) -> Any:
        with self.tx() as db:
            row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return json.loads(row["value"]) if row else default

    def set_meta(self, key: str, value: Any) -> None:
        with self.tx() as db:
            db.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, json.dumps(value)),
            )

    def next_value(self, name: str, start: int = 1) -> int:
        """Next number of a named sequence (item ids, surcharge ids, order numbers)."""
        with self.tx():
            value = int(self.get_meta(f"seq:{name}", start - 1)) + 1
            self.set_meta(f"seq:{name}", value)
            return value

    # --- documents ----------------------------------------------------------------------

    def get_doc(self, table: str, record_id: int) -> dict[str, Any] | None:
        with self.tx() as db:
            row = db.execute(f"SELECT * FROM {table} WHERE id = ?", (record_id,)).fetchone()
        return row_doc(row) if row else None

    def put_doc(self, table: str, record_id: int, doc: dict[str, Any], **columns: Any) -> None:
        sets = ", ".join(f"{name} = ?" for name in ("doc", *columns))
        with self.tx() as db:
            db.execute(
                f"UPDATE {table} SET {sets} WHERE id = ?",
                (json.dumps(doc), *columns.values(), record_id),
            )

    def insert(self, table: str, doc: dict[str, Any], **columns: Any) -> int:
        names = ", ".join(("doc", *columns))
        marks = ", ".join("?" * (len(columns) + 1))
        with self.tx() as db:
            cursor = db.execute(
                f"INSERT INTO {table} ({names}) VALUES ({marks})",
                (json.dumps(doc), *columns.values()),
            )
            return int(cursor.lastrowid or 0)

    def delete(self, table: str, record_id: int) -> None:
        with self.tx() as db:
            db.execute(f"DELETE FROM {table} WHERE id = ?", (record_id,))

    def query(self, sql: str, params: tuple[Any, ...] | list[Any] = ()) -> list[dict[str, Any]]:
        with self.tx() as db:
            return [row_doc(row) for row in db.execute(sql, params).fetchall()]

    def execute(self, sql: str, params: tuple[Any, ...] | list[Any] = ()) -> None:
        with self.tx() as db:
            db.execute(sql, params)

    def scalar(self, sql: str, params: tuple[Any, ...] | list[Any] = ()) -> Any:
        with self.tx() as db:
            row = db.execute(sql, params).fetchone()
        return row[0] if row else None


def row_doc(row: sqlite3.Row) -> dict[str, Any]:
    """The row's JSON document merged with its columns (columns win)."""
    data = dict(row)
    doc = json.loads(data.pop("doc", "{}") or "{}")
    doc.update(data)
    return doc
