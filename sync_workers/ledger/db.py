"""Engine and sessions for the ledger (SQLite embedded default, PostgreSQL in production)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

_engines: dict[str, Engine] = {}

#: libpq settings that make a PostgreSQL server cut off from this host an error within about
#: 25 s, below the tasks' soft time limit, so that the step retries instead of the soft limit
#: interrupting a connection mid-statement: connect within 10 s; a peer that stops answering is
#: dropped after 10 s idle + 3 unanswered keepalives 5 s apart, or 20 s of unacknowledged data.
POSTGRES_CONNECT_ARGS: dict[str, int] = {
    "connect_timeout": 10,
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
    "tcp_user_timeout": 20_000,
}
_lock = threading.Lock()


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine tuned for the ledger: WAL and a busy timeout on SQLite, pre-ping on servers."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    if parsed.drivername in ("postgresql", "postgres"):
        url = str(parsed.set(drivername="postgresql+psycopg"))
    if parsed.get_backend_name() == "postgresql":
        # given in the URL's query, a libpq parameter wins over these
        wanted = {k: v for k, v in POSTGRES_CONNECT_ARGS.items() if k not in parsed.query}
        kwargs["connect_args"] = {**wanted, **kwargs.get("connect_args", {})}
    return create_engine(url, pool_pre_ping=True, **kwargs)


def get_engine(url: str | None = None) -> Engine:
    """The process-wide engine for ``url`` (default: the settings' ``DATABASE_URL``)."""
    if url is None:
        from sync_workers.settings import get_settings

        url = get_settings().database_url.reveal()
    with _lock:
        engine = _engines.get(url)
        if engine is None:
            engine = _engines[url] = make_engine(url)
        return engine


def dispose_engines() -> None:
    """Drop pooled connections; call in a child process after fork."""
    with _lock:
        for engine in _engines.values():
            engine.dispose(close=False)
        _engines.clear()
        _factories.clear()


_factories: dict[int, sessionmaker[Session]] = {}


def _factory(engine: Engine) -> sessionmaker[Session]:
    """One sessionmaker per engine: each new sessionmaker builds a Session subclass and its event
    dispatch, which cost a ledger-heavy task ~4 % of its CPU when made per session (py-spy)."""
    factory = _factories.get(id(engine))
    if factory is not None and factory.kw.get("bind") is engine:
        return factory
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    with _lock:
        if any(e is engine for e in _engines.values()):  # only the process-wide engines,
            _factories[id(engine)] = factory  # which live as long as the process anyway
    return factory


@contextmanager
def session_scope(engine: Engine | None = None) -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    session = _factory(engine or get_engine())()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
