"""Every process checks the ledger's schema revision at start, through its real command line.

An explicit ``DATABASE_URL`` at another revision stops the worker, beat, the webhook receiver and
the ``celery`` subcommands with exit 2 and one line; the embedded default (SQLite in
``DATA_DIR``) is migrated by whichever process starts first; a ledger newer than the code is
never touched.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests
from sqlalchemy import text
from sqlalchemy.engine import make_url

from sync_workers.ledger import migrate
from sync_workers.ledger.db import make_engine
from sync_workers.ledger.schema import State, state_of
from sync_workers.redaction import redact_url
from sync_workers.settings import get_settings

ROOT = Path(__file__).resolve().parents[2]
HEAD = migrate.head_revision()
FIX = "run make migrate (python -m sync_workers.ledger upgrade)"
FUTURE = "0099"
CELERY = [sys.executable, "-m", "celery", "-A", "sync_workers"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def worker_command(name: str = "schema") -> list[str]:
    return [
        *CELERY,
        "worker",
        "-P",
        "solo",
        "-Q",
        "realtime",
        "--without-gossip",
        "--without-mingle",
        "-n",
        f"{name}-{uuid.uuid4().hex[:8]}@test",
    ]


COMMANDS: dict[str, Callable[[], list[str]]] = {
    "worker": worker_command,
    "beat": lambda: [*CELERY, "beat", "-S", "redbeat.RedBeatScheduler"],
    "receiver": lambda: [
        sys.executable,
        "-m",
        "sync_workers.webhooks",
        "--port",
        str(_free_port()),
        "--workers",
        "1",
    ],
    "sync-status": lambda: [*CELERY, "sync-status", "--json"],
}


def engine_env(data_dir: Path, database_url: str | None = None) -> dict[str, str]:
    """The test run's environment with its own data directory, and a DATABASE_URL only if given."""
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update({"DATA_DIR": str(data_dir), "PYTHONPATH": str(ROOT), "LOG_FORMAT": "text"})
    if database_url is not None:
        env["DATABASE_URL"] = database_url
    return env


def run(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """A process that should stop on its own; the timeout only catches one that retries forever."""
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=90)


def revision_of(url: str) -> str | None:
    engine = make_engine(url)
    try:
        return migrate.current_revision(engine)
    finally:
        engine.dispose()


def set_revision(url: str, revision: str) -> None:
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text("update alembic_version set version_num = :r"), {"r": revision})
    finally:
        engine.dispose()


def ledger_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("ledger error:")]


def migrated_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if "migrated from schema revision" in line]


def embedded_url(data_dir: Path) -> str:
    return f"sqlite:///{data_dir.resolve() / 'sync_workers.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def explicit_url(request, tmp_path) -> str:
    """An explicit DATABASE_URL nobody migrated: a SQLite file path, a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'explicit' / 'ledger.db'}"
    return request.getfixturevalue("postgres_schema_url")


# -- where a revision stands ---------------------------------------------------------------


def test_a_revision_is_missing_current_or_ahead_of_the_code() -> None:
    assert HEAD == "0001"
    assert state_of(None) is State.MISSING
    assert state_of(HEAD) is State.CURRENT
    assert state_of(FUTURE) is State.AHEAD


def test_a_revision_the_next_migration_revises_is_behind(tmp_path) -> None:
    """With a migration on top of today's, a ledger at today's head is behind, not ahead."""
    import shutil

    from alembic.config import Config
    from alembic.script import ScriptDirectory

    scripts = tmp_path / "migrations"
    shutil.copytree(migrate.MIGRATIONS, scripts)
    (scripts / "versions" / "0002_next.py").write_text(
        'revision = "0002"\ndown_revision = "0001"\nbranch_labels = None\ndepends_on = None\n\n\n'
        "def upgrade() -> None:\n    pass\n\n\ndef downgrade() -> None:\n    pass\n",
        encoding="utf-8",
    )
    config = Config()
    config.set_main_option("script_location", str(scripts))
    script = ScriptDirectory.from_config(config)

    assert state_of(HEAD, script) is State.BEHIND
    assert state_of("0002", script) is State.CURRENT
    assert state_of(FUTURE, script) is State.AHEAD


# -- an explicit DATABASE_URL is never migrated implicitly -----------------------------------


@pytest.mark.parametrize("process", list(COMMANDS))
def test_every_process_stops_with_one_line_on_an_unmigrated_explicit_ledger(
    process, explicit_url, tmp_path, redis_client
) -> None:
    proc = run(COMMANDS[process](), engine_env(tmp_path / "data", explicit_url))

    assert proc.returncode == 2, proc.stderr[-3000:]
    assert ledger_lines(proc.stderr) == [
        f"ledger error: {redact_url(explicit_url)} is at schema revision none, "
        f"this engine needs {HEAD}; {FIX}"
    ]
    assert "Traceback" not in proc.stderr
    if explicit_url.startswith("sqlite"):
        assert not (tmp_path / "explicit").exists()  # asking did not create the file
    else:
        assert revision_of(explicit_url) is None


def test_the_line_masks_the_database_password(tmp_path, redis_client, postgres_url) -> None:
    server = make_url(postgres_url).set(password="db-secret", query={})
    url = f"{server.render_as_string(hide_password=False)}?options=-csearch_path%3Dnowhere"

    proc = run(COMMANDS["sync-status"](), engine_env(tmp_path / "data", url))

    assert proc.returncode == 2
    assert "db-secret" not in proc.stdout + proc.stderr
    [line] = ledger_lines(proc.stderr)
    masked = server.render_as_string(hide_password=False).replace("db-secret", "********")
    assert line.startswith(f"ledger error: {masked}")


def test_a_url_no_driver_can_open_stops_the_process_with_one_line(tmp_path, redis_client) -> None:
    url = "nosuchdb://sync:db-secret@db/sync"

    proc = run(worker_command(), engine_env(tmp_path / "data", url))

    assert proc.returncode == 2
    assert ledger_lines(proc.stderr) == [
        "ledger error: cannot read the schema revision of nosuchdb://sync:********@db/sync "
        "(NoSuchModuleError: Can't load plugin: sqlalchemy.dialects:nosuchdb)"
    ]
    assert "db-secret" not in proc.stdout + proc.stderr


# -- a ledger newer than the code is never touched --------------------------------------------


@pytest.mark.parametrize("process", list(COMMANDS))
def test_every_process_stops_on_an_embedded_ledger_ahead_of_the_code(
    process, tmp_path, redis_client
) -> None:
    data_dir = tmp_path / "data"
    url = embedded_url(data_dir)
    migrate.upgrade(url)
    set_revision(url, FUTURE)

    proc = run(COMMANDS[process](), engine_env(data_dir))

    assert proc.returncode == 2, proc.stderr[-3000:]
    assert ledger_lines(proc.stderr) == [
        f"ledger error: {url} is at schema revision {FUTURE}, newer than this engine knows "
        f"(it needs {HEAD}); run the engine version that migrated it, or downgrade the ledger "
        f"with that version (python -m sync_workers.ledger downgrade {HEAD})"
    ]
    assert revision_of(url) == FUTURE


def test_beat_stopped_by_the_check_gives_its_lock_back(tmp_path, redis_client) -> None:
    data_dir = tmp_path / "data"
    url = embedded_url(data_dir)
    migrate.upgrade(url)
    set_revision(url, FUTURE)
    lock_key = get_settings().redis_key_prefix + "redbeat::lock"

    proc = run(COMMANDS["beat"](), engine_env(data_dir))

    assert proc.returncode == 2
    assert "beat: Acquired lock" in proc.stderr  # RedBeat took it before the check ran
    assert not redis_client.exists(lock_key)


def test_an_explicit_postgres_ledger_ahead_of_the_code_stops_the_command(
    postgres_schema_url, tmp_path, redis_client
) -> None:
    migrate.upgrade(postgres_schema_url)
    set_revision(postgres_schema_url, FUTURE)

    proc = run(COMMANDS["sync-status"](), engine_env(tmp_path / "data", postgres_schema_url))

    assert proc.returncode == 2
    [line] = ledger_lines(proc.stderr)
    assert f"is at schema revision {FUTURE}, newer than this engine knows" in line
    assert revision_of(postgres_schema_url) == FUTURE


# -- the embedded default migrates itself ---------------------------------------------------


@contextmanager
def running(command: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen]:
    with log.open("w") as out:
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            yield proc
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def wait_until(check: Callable[[], object], proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"not up within 60 s:\n{log.read_text()[-3000:]}")


def worker_answers(name: str) -> Callable[[], bool]:
    from sync_workers.celery import app

    return lambda: bool(app.control.ping(destination=[name], timeout=0.5))


def receiver_answers(port: int) -> Callable[[], bool]:
    def check() -> bool:
        try:
            return requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200
        except requests.ConnectionError:
            return False

    return check


def beat_sends(log: Path) -> Callable[[], bool]:
    return lambda: "Sending due task" in log.read_text()


def test_a_worker_on_an_empty_data_dir_migrates_the_embedded_ledger_and_answers(
    tmp_path, redis_client
) -> None:
    data_dir = tmp_path / "data"
    command = worker_command()
    name = command[-1]
    log = tmp_path / "worker.log"

    with running(command, engine_env(data_dir), log) as proc:
        wait_until(worker_answers(name), proc, log)

    assert revision_of(embedded_url(data_dir)) == HEAD
    [line] = migrated_lines(log.read_text())
    assert line.endswith(
        f"INFO    sync_workers.ledger.schema: ledger {embedded_url(data_dir)} migrated from "
        f"schema revision none to {HEAD}"
    )


def test_worker_beat_and_receiver_starting_together_migrate_a_fresh_ledger_once(
    tmp_path, redis_client
) -> None:
    data_dir = tmp_path / "data"
    env = {**engine_env(data_dir), "POLL_INTERVAL_SECONDS": "1"}
    worker = worker_command()
    port = _free_port()
    receiver = [sys.executable, "-m", "sync_workers.webhooks", "--port", str(port)]
    logs = {name: tmp_path / f"{name}.log" for name in ("worker", "beat", "receiver")}

    with (
        running(worker, env, logs["worker"]) as worker_proc,
        running(COMMANDS["beat"](), env, logs["beat"]) as beat_proc,
        running([*receiver, "--workers", "1"], env, logs["receiver"]) as receiver_proc,
    ):
        wait_until(worker_answers(worker[-1]), worker_proc, logs["worker"])
        wait_until(receiver_answers(port), receiver_proc, logs["receiver"])
        wait_until(beat_sends(logs["beat"]), beat_proc, logs["beat"])

    assert revision_of(embedded_url(data_dir)) == HEAD
    announced = [line for log in logs.values() for line in migrated_lines(log.read_text())]
    assert len(announced) == 1, announced


def _check_when_all_are_ready(data_dir: str, ready, announced) -> None:
    import logging

    from sync_workers.ledger.schema import check_at_start
    from sync_workers.settings import load_settings

    class Announced(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            announced.put(record.getMessage())

    logging.getLogger("sync_workers.ledger.schema").addHandler(Announced())
    logging.getLogger("sync_workers.ledger.schema").setLevel(logging.INFO)
    settings = load_settings({**os.environ, "DATA_DIR": data_dir})
    ready.wait()
    check_at_start(settings)


def test_processes_checking_a_fresh_embedded_ledger_at_the_same_moment_migrate_it_once(
    tmp_path,
) -> None:
    context = multiprocessing.get_context("spawn")
    ready = context.Barrier(6)
    announced = context.Queue()
    data_dir = tmp_path / "data"
    children = [
        context.Process(target=_check_when_all_are_ready, args=(str(data_dir), ready, announced))
        for _ in range(6)
    ]
    for child in children:
        child.start()
    for child in children:
        child.join(timeout=90)

    messages = []
    while not announced.empty():  # the children have exited, so all they put is there
        messages.append(announced.get(timeout=5))

    assert [child.exitcode for child in children] == [0] * 6
    assert revision_of(embedded_url(data_dir)) == HEAD
    assert len(messages) == 1, messages
    assert messages[0].endswith(f"migrated from schema revision none to {HEAD}")


# -- a ledger that does not answer is an outage, not a mismatch ------------------------------


def test_a_worker_whose_ledger_does_not_answer_starts_and_says_so(tmp_path, redis_client) -> None:
    url = "postgresql://postgres@127.0.0.1:1/test"
    command = worker_command()
    log = tmp_path / "worker.log"

    with running(command, engine_env(tmp_path / "data", url), log) as proc:
        wait_until(worker_answers(command[-1]), proc, log)

    output = log.read_text()
    assert f"WARNING sync_workers.ledger.schema: ledger {url} is unavailable at start" in output
    assert "its schema was not checked" in output
    assert not ledger_lines(output)
