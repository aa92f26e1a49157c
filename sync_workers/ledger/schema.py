"""The ledger's schema revision, checked by every process before it does any work.

Worker, beat, webhook receiver and the ``celery`` subcommands call :func:`check_at_start`:

* the ledger is at the code's head revision: nothing happens;
* the embedded default (no ``DATABASE_URL``: the SQLite file in ``DATA_DIR``) has no schema or an
  older one: it is migrated to head here, under a file lock, so a worker, beat and receiver that
  start together on a fresh data directory migrate it once;
* any other mismatch (an explicit ``DATABASE_URL`` not at head, or any ledger at a revision newer
  than this code knows): one line on stderr and exit 2, which ``make run`` treats as a
  configuration error and does not restart;
* the database cannot be reached: a warning, and the process starts anyway; workers retry ledger
  work as with any outage, and a task that then meets a missing table or column is dead-lettered
  with the fix (``sync_workers.errors_policy``);
* the URL cannot be used (unknown dialect, missing driver): one line and exit 2.
"""

from __future__ import annotations

import fcntl
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.pool import NullPool

from sync_workers.ledger import migrate
from sync_workers.ledger.db import make_engine
from sync_workers.redaction import redact_url

if TYPE_CHECKING:
    from sync_workers.settings import Settings

log = logging.getLogger(__name__)

EXIT_SCHEMA = 2
#: Seconds to wait for a PostgreSQL server that does not answer at all.
CONNECT_TIMEOUT = 10
MIGRATE_FIX = "run make migrate (python -m sync_workers.ledger upgrade)"


class State(StrEnum):
    CURRENT = "current"
    MISSING = "missing"  # no schema at all
    BEHIND = "behind"  # a revision this code upgrades from
    AHEAD = "ahead"  # a revision this code does not know: written by a newer version


def _script() -> ScriptDirectory:
    return ScriptDirectory.from_config(migrate.alembic_config("sqlite://"))


def state_of(revision: str | None, script: ScriptDirectory | None = None) -> State:
    """Where a ledger at ``revision`` stands against the code's migrations."""
    script = script or _script()
    if revision is None:
        return State.MISSING
    if revision == script.get_current_head():
        return State.CURRENT
    known = {s.revision for s in script.walk_revisions()}
    return State.BEHIND if revision in known else State.AHEAD


def read_revision(url: str) -> str | None:
    """The ledger's revision; None when it has no schema. An explicit SQLite file that does not
    exist is not created by asking."""
    parsed = make_url(url)
    kwargs: dict[str, Any] = {"poolclass": NullPool}
    if parsed.get_backend_name() == "sqlite":
        file = parsed.database
        if file and file != ":memory:" and not Path(file).exists():
            return None
    elif "connect_timeout" not in parsed.query:
        kwargs["connect_args"] = {"connect_timeout": CONNECT_TIMEOUT}
    engine = make_engine(url, **kwargs)
    try:
        return migrate.current_revision(engine)
    finally:
        engine.dispose()


def _mismatch(url: str, revision: str | None, script: ScriptDirectory) -> NoReturn:
    """One line naming the ledger, its revision, the one expected and the fix; exit 2."""
    shown = redact_url(url)
    head = script.get_current_head()
    if state_of(revision, script) is State.AHEAD:
        _exit(
            f"ledger error: {shown} is at schema revision {revision}, newer than this engine "
            f"knows (it needs {head}); run the engine version that migrated it, or downgrade "
            f"the ledger with that version (python -m sync_workers.ledger downgrade {head})"
        )
    _exit(
        f"ledger error: {shown} is at schema revision {revision or 'none'}, "
        f"this engine needs {head}; {MIGRATE_FIX}"
    )


def _exit(line: str) -> NoReturn:
    print(line, file=sys.stderr)
    raise SystemExit(EXIT_SCHEMA)


def _first_line(exc: BaseException) -> str:
    cause = getattr(exc, "orig", None) or exc
    lines = str(cause).strip().splitlines()
    return f"{type(cause).__name__}: {lines[0]}" if lines else type(cause).__name__


def check_at_start(settings: Settings) -> None:
    """Return when the ledger is at head (migrating the embedded default when it is missing or
    behind) or cannot be reached; otherwise print one line and exit 2."""
    url = settings.database_url.reveal()
    try:
        revision = read_revision(url)
    except (OperationalError, InterfaceError) as exc:
        log.warning(
            "ledger %s is unavailable at start (%s); its schema was not checked",
            redact_url(url),
            _first_line(exc),
        )
        return
    except (SQLAlchemyError, ImportError, OSError) as exc:  # a bad URL, driver, path or grant
        _exit(
            f"ledger error: cannot read the schema revision of {redact_url(url)} ({_first_line(exc)})"
        )
    script = _script()
    state = state_of(revision, script)
    if state is State.CURRENT:
        return
    if settings.embedded_ledger and state in (State.MISSING, State.BEHIND):
        _migrate_embedded(url, script)
        return
    _mismatch(url, revision, script)


def _migrate_embedded(url: str, script: ScriptDirectory) -> None:
    head = script.get_current_head()
    database = make_url(url).database or ""
    try:
        with _file_lock(Path(f"{database}.migrate-lock")):
            revision = read_revision(url)  # another process may have migrated it meanwhile
            state = state_of(revision, script)
            if state is State.CURRENT:
                return
            if state is State.AHEAD:
                _mismatch(url, revision, script)
            migrate.upgrade(url)
    except (SQLAlchemyError, CommandError, OSError) as exc:
        _exit(
            f"ledger error: could not migrate {redact_url(url)} to schema revision {head} "
            f"({_first_line(exc)}); {MIGRATE_FIX}"
        )
    log.info(
        "ledger %s migrated from schema revision %s to %s",
        redact_url(url),
        revision or "none",
        head,
    )


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """Held by one process at a time; the system releases it when its holder exits, however."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
