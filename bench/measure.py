"""Small measuring tools: percentiles, machine load, process memory, ledger and call counts."""

from __future__ import annotations

import math
import os
import re
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any


def percentile(values: Iterable[float], pct: float) -> float:
    """Nearest-rank percentile (the smallest value with at least ``pct`` % at or below it)."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("percentile of no values")
    if not 0 < pct <= 100:
        raise ValueError("pct must be in (0, 100]")
    rank = math.ceil(pct / 100 * len(ordered))
    return ordered[max(rank, 1) - 1]


def summary(values: list[float], pcts: tuple[float, ...] = (50, 95, 99)) -> dict[str, float]:
    out = {f"p{int(p) if p == int(p) else p}": round(percentile(values, p), 3) for p in pcts}
    out["max"] = round(max(values), 3)
    out["n"] = len(values)
    return out


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


_ID = re.compile(r"/\d+(?=/|$)")


def call_pattern(by_path: Mapping[str, int]) -> Counter[str]:
    """``{"GET /api/orders/7/payment_transactions": 1}`` -> ``{"GET /api/orders/{id}/...": 1}``."""
    pattern: Counter[str] = Counter()
    for key, count in by_path.items():
        method, _, path = key.partition(" ")
        path = path.split("?", 1)[0]
        if path.startswith("/entity/Default/"):
            path = "/entity/" + path.split("/", 4)[-1]
        pattern[f"{method} {_ID.sub('/{id}', path)}"] += count
    return pattern


def api_calls(by_path: Mapping[str, int], *, exclude: Iterable[str] = ()) -> int:
    """Emulated-API calls, sign-in and sign-out excluded (and any path in ``exclude``)."""
    skip = set(exclude)
    return sum(
        n
        for k, n in call_pattern(by_path).items()
        if "/entity/auth/" not in k and k not in skip and not k.endswith("/identity/connect/token")
    )


def diff(after: Mapping[str, int], before: Mapping[str, int]) -> dict[str, int]:
    return {k: after[k] - before.get(k, 0) for k in after if after[k] - before.get(k, 0)}


def read_only(path: str) -> sqlite3.Connection:
    """A read-only connection to the SQLite ledger at ``path``. When SQLite cannot open it, the
    error says what was on disk at that moment (the file, its WAL and shared-memory files, the
    directory): "unable to open database file" alone does not tell which was missing."""
    try:
        return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    except sqlite3.OperationalError as exc:
        raise sqlite3.OperationalError(f"{exc}: {path}: {files_at(path)}") from exc


def files_at(path: str) -> str:
    """What is on disk for a SQLite database: each file's size, or that it is missing."""
    db = Path(path)
    if not db.parent.is_dir():
        return f"directory {db.parent} is missing"
    found = []
    for suffix in ("", "-wal", "-shm"):
        candidate = db.with_name(db.name + suffix)
        try:
            found.append(f"{candidate.name} {candidate.stat().st_size} bytes")
        except OSError as exc:
            found.append(f"{candidate.name} {exc.strerror or exc}")
    return ", ".join(found)


class Ledger:
    """Read-only counts from the stack's ledger (never through the engine): a SQLite file or a
    PostgreSQL database, by SQLAlchemy URL."""

    def __init__(self, url: str) -> None:
        from sqlalchemy import create_engine

        if url.startswith("sqlite:///"):
            path = url.removeprefix("sqlite:///")
            self.engine = create_engine(
                "sqlite://",
                creator=lambda: read_only(path),
                poolclass=_null_pool(),
            )
        else:
            self.engine = create_engine(url, pool_size=1, max_overflow=0)

    def _query(self, sql: str, *args: Any) -> list[tuple]:
        from sqlalchemy import text

        names = {f"p{n}": value for n, value in enumerate(args)}
        for n in range(len(args)):
            sql = sql.replace("?", f":p{n}", 1)
        with self.engine.connect() as db:
            return [tuple(row) for row in db.execute(text(sql), names).fetchall()]

    def linked(self, flow: str) -> int:
        return int(
            self._query(
                "select count(*) from sync_records where flow = ? and target_key is not null", flow
            )[0][0]
        )

    def rows(self, flow: str) -> list[tuple]:
        return self._query(
            "select source_id, target_key, status, updated_at from sync_records where flow = ?",
            flow,
        )

    def sweeps(self) -> dict[str, str | None]:
        """Each poll cursor's last sweep (``flow/direction`` → the end of the window that last
        re-read the overlap; see ``sync_workers.cursor``)."""
        import json

        rows = self._query("select flow, direction, value from cursors")
        found: dict[str, str | None] = {}
        for flow, direction, value in rows:
            try:
                found[f"{flow}/{direction}"] = (json.loads(value) or {}).get("swept")
            except (TypeError, ValueError, AttributeError):
                found[f"{flow}/{direction}"] = None  # not a window cursor
        return found

    def statuses(self) -> dict[str, int]:
        rows = self._query("select flow, status, count(*) from sync_records group by 1, 2")
        return {f"{flow}/{status}": n for flow, status, n in rows}


def _null_pool() -> Any:
    from sqlalchemy.pool import NullPool

    return NullPool


def wait_for_count(
    count: Any, target: int, *, timeout: float, interval: float = 0.2
) -> tuple[int, float]:
    """Poll ``count()`` until it reaches ``target``; returns (last count, seconds waited)."""
    started = time.monotonic()
    value = count()
    while value < target and time.monotonic() - started < timeout:
        time.sleep(interval)
        value = count()
    return value, time.monotonic() - started


# -- memory --------------------------------------------------------------------------------


def _status(pid: int) -> dict[str, str]:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return {}
    return dict(line.split(":\t", 1) for line in text.splitlines() if ":\t" in line)


def rss_kib(pid: int) -> int | None:
    value = _status(pid).get("VmRSS")
    return int(value.split()[0]) if value else None


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid:
            found.append(int(entry.name))
    return found


def cpu_seconds(roots: Iterable[int]) -> list[float]:
    """CPU time (user + system, seconds) of each root process with its descendants alive now:
    one pass over /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    parent: dict[int, int] = {}
    used: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid = int(entry.name)
        parent[pid] = int(fields[1])
        used[pid] = (int(fields[11]) + int(fields[12])) / ticks
    totals = []
    for root in roots:
        total = 0.0
        for pid, seconds in used.items():
            ancestor = pid
            while ancestor > 1 and ancestor != root:
                ancestor = parent.get(ancestor, 0)
            if ancestor == root:
                total += seconds
        totals.append(total)
    return totals


class RssSampler(threading.Thread):
    """Samples the RSS of worker processes (and their pool children) once a second."""

    def __init__(self, roots: dict[str, int], interval: float = 1.0) -> None:
        super().__init__(daemon=True)
        self.roots = roots
        self.interval = interval
        self.samples: list[tuple[float, dict[str, int]]] = []
        self._halt = threading.Event()

    def snapshot(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for name, pid in self.roots.items():
            main = rss_kib(pid)
            if main is not None:
                out[f"{name}/main"] = main
            for n, child in enumerate(sorted(children(pid))):
                value = rss_kib(child)
                if value is not None:
                    out[f"{name}/child{n}"] = value
        return out

    def run(self) -> None:
        while not self._halt.is_set():
            self.samples.append((time.monotonic(), self.snapshot()))
            self._halt.wait(self.interval)

    def stop(self) -> None:
        self._halt.set()
        self.join(5)

    def peaks(self) -> dict[str, int]:
        peak: dict[str, int] = {}
        for _, snap in self.samples:
            for name, value in snap.items():
                peak[name] = max(peak.get(name, 0), value)
        return peak

    def at(self, moment: float) -> dict[str, int]:
        """The sample closest to ``moment`` (monotonic seconds)."""
        if not self.samples:
            return {}
        return min(self.samples, key=lambda s: abs(s[0] - moment))[1]
