"""Test-wide set-up: real Redis and PostgreSQL, an isolated key prefix and data directory.

Environment variables are fixed here, before anything imports ``sync_workers``, so the settings
object, the Celery app and the Redis client all point at test resources. Under ``CI=true`` a
missing Redis or PostgreSQL fails the run instead of skipping.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest

#: The run's id, in its key prefix (``t<id>:``) and data directory: ``TEST_RUN_ID`` names it (so
#: a script running several copies of the suite can find each one's keys), else a random one.
_RUN = os.environ.get("TEST_RUN_ID") or uuid.uuid4().hex[:8]
if not _RUN.isascii() or not _RUN.replace("-", "").isalnum():
    raise ValueError(f"TEST_RUN_ID must be letters, digits and dashes, not {_RUN!r}")
_DATA = tempfile.mkdtemp(prefix=f"sync-workers-test-{_RUN}-")
REDIS_TEST_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
AMQP_TEST_URL = os.environ.get("TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672").rstrip("/")
POSTGRES_TEST_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
#: The engine's own ledger (``DATABASE_URL``, the ``ledger`` fixture): ``sqlite`` (the default:
#: the SQLite file in the data directory) or ``postgresql`` (a schema of its own in the test
#: database, made and migrated at the start of the run, dropped at its end).
TEST_LEDGER = os.environ.get("TEST_LEDGER", "sqlite")
if TEST_LEDGER not in ("sqlite", "postgresql"):
    raise ValueError(f"TEST_LEDGER must be sqlite or postgresql, not {TEST_LEDGER!r}")
_LEDGER_SCHEMA = f"ledger_{uuid.uuid4().hex[:12]}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


XCART_PORT = _free_port()
ACUMATICA_PORT = _free_port()

os.environ.update(
    {
        "REDIS_URL": REDIS_TEST_URL,
        "REDIS_KEY_PREFIX": f"t{_RUN}:",
        "DATA_DIR": _DATA,
        "RETRY_MAX": "3",
        "RETRY_BACKOFF_BASE": "0.2",
        "RETRY_BACKOFF_MAX": "2",
        "TASK_SOFT_TIME_LIMIT": "20",
        "TASK_TIME_LIMIT": "30",
        "BROKER_VISIBILITY_TIMEOUT": "3600",
        "STALL_SECONDS": "3700",
        "LOG_FORMAT": "text",
    }
)
for _name in list(os.environ):
    if _name.startswith(("XCART_", "ACUMATICA_", "SENTRY_", "DATABASE_URL", "WEBHOOK_")):
        del os.environ[_name]
if TEST_LEDGER == "postgresql":
    os.environ["DATABASE_URL"] = f"{POSTGRES_TEST_URL}?options=-csearch_path%3D{_LEDGER_SCHEMA}"
# The engine under test talks to sandboxes started by the fixtures below, on ports of their own.
os.environ.update(
    {
        "XCART_BASE_URL": f"http://127.0.0.1:{XCART_PORT}",
        "XCART_API_TOKEN": "sandbox-rw",
        "ACUMATICA_BASE_URL": f"http://127.0.0.1:{ACUMATICA_PORT}",
        "ACUMATICA_USERNAME": "admin",
        "ACUMATICA_PASSWORD": "sandbox",
        "ACUMATICA_TENANT": "Company",
        "ACUMATICA_REQUESTS_PER_MINUTE": "100000",
        "ACUMATICA_MAX_CONCURRENT": "8",
        "ACUMATICA_READ_TIMEOUT": "10",
        "XCART_REQUESTS_PER_MINUTE": "100000",
        "XCART_READ_TIMEOUT": "10",
    }
)

pytest_plugins = ("celery.contrib.pytest",)


def _service_missing(what: str, exc: Exception) -> None:
    message = f"{what} is not reachable: {exc}"
    if os.environ.get("CI") == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def rabbitmqctl(*args: str) -> str:
    done = subprocess.run(
        ["rabbitmqctl", "-q", *args], capture_output=True, text=True, timeout=60, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"rabbitmqctl {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout


@pytest.fixture(scope="session")
def rabbitmq() -> str:
    """The RabbitMQ server's URL without a vhost; fails or skips when it cannot be used."""
    from kombu import Connection

    try:
        with Connection(AMQP_TEST_URL + "/", connect_timeout=3) as conn:
            conn.ensure_connection(max_retries=1)
    except Exception as exc:
        _service_missing("RabbitMQ at " + urlsplit(AMQP_TEST_URL).netloc.split("@")[-1], exc)
    if shutil.which("rabbitmqctl") is None:
        _service_missing("rabbitmqctl (to make a vhost per test)", FileNotFoundError())
    try:
        rabbitmqctl("list_vhosts")
    except RuntimeError as exc:
        _service_missing("rabbitmqctl (to make a vhost per test)", exc)
    return AMQP_TEST_URL


@pytest.fixture(scope="session")
def redis_url() -> str:
    import redis

    try:
        redis.Redis.from_url(REDIS_TEST_URL, socket_connect_timeout=2).ping()
    except Exception as exc:
        _service_missing("Redis at " + REDIS_TEST_URL, exc)
    return REDIS_TEST_URL


@pytest.fixture
def redis_client(redis_url: str):
    """The engine's Redis client, with every key of this test run removed after the test."""
    from sync_workers.redis_client import get_redis
    from sync_workers.settings import get_settings

    client = get_redis()
    yield client
    prefix = get_settings().redis_key_prefix
    keys = list(client.scan_iter(match=prefix + "*", count=1000))
    if keys:
        client.delete(*keys)


@pytest.fixture
def pipeline_trips(redis_client, monkeypatch) -> list[int]:
    """The commands of each pipeline round trip the test sends, as they are sent."""
    import redis

    trips: list[int] = []
    execute = redis.client.Pipeline.execute
    test = threading.current_thread()

    def counted(pipe, *args, **kwargs):
        if threading.current_thread() is test:  # not the lock heartbeat's renewals
            trips.append(len(pipe))
        return execute(pipe, *args, **kwargs)

    monkeypatch.setattr(redis.client.Pipeline, "execute", counted)
    return trips


@pytest.fixture(scope="session")
def postgres_url() -> str:
    import sqlalchemy

    from sync_workers.ledger.db import make_engine

    try:
        engine = make_engine(POSTGRES_TEST_URL)
        with engine.connect() as conn:
            conn.execute(sqlalchemy.text("select 1"))
        engine.dispose()
    except Exception as exc:
        _service_missing("PostgreSQL at " + POSTGRES_TEST_URL, exc)
    return POSTGRES_TEST_URL


@pytest.fixture
def postgres_schema_url(postgres_url: str):
    """A fresh PostgreSQL schema for one test, dropped afterwards."""
    import sqlalchemy

    from sync_workers.ledger.db import make_engine

    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = make_engine(postgres_url)
    with admin.begin() as conn:
        conn.execute(sqlalchemy.text(f"create schema {schema}"))
    yield f"{postgres_url}?options=-csearch_path%3D{schema}"
    with admin.begin() as conn:
        conn.execute(sqlalchemy.text(f"drop schema {schema} cascade"))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger_url(request, tmp_path) -> str:
    """A migrated, empty ledger on SQLite and on PostgreSQL."""
    from sync_workers.ledger import migrate

    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'ledger.db'}"
    else:
        url = request.getfixturevalue("postgres_schema_url")
    migrate.upgrade(url)
    return url


# -- Celery: the engine's own app against the test Redis, a real worker thread ----------------


@dataclass(frozen=True)
class TaskRun:
    """One run of a task that the worker finished: its name, id, record and final state
    (``SUCCESS``, ``FAILURE``, ``RETRY``, ``IGNORED``, ``REJECTED``)."""

    name: str
    task_id: str
    record_id: str | None
    state: str


class TaskRuns:
    """The task runs the in-process worker finishes, as Celery's ``task_postrun`` reports them.

    A run's end proves that what the run was going to do is done: a retry is published, a
    dead letter written, a duplicate sent before it ends. A test waits for the run it expects
    instead of sleeping for a while and hoping the worker was quick enough."""

    def __init__(self) -> None:
        self._runs: list[TaskRun] = []
        self._changed = threading.Condition()

    def record(self, sender=None, task_id=None, task=None, args=None, kwargs=None, state=None, **_):
        of = getattr(task, "record_id_of", None)
        record_id = of(args or (), kwargs or {}) if of else (kwargs or {}).get("record_id")
        with self._changed:
            self._runs.append(TaskRun(task.name, task_id, record_id, str(state)))
            self._changed.notify_all()

    def of(self, record_id: str) -> list[TaskRun]:
        with self._changed:
            return [run for run in self._runs if run.record_id == record_id]

    def wait(self, record_id: str, count: int, timeout: float = 30.0) -> list[TaskRun]:
        """The finished runs of ``record_id`` once there are at least ``count`` of them."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self.of(record_id)) >= count, timeout):
                raise AssertionError(
                    f"{count} runs of {record_id} not finished within {timeout}s: "
                    f"{self.of(record_id)}"
                )
            return self.of(record_id)


@pytest.fixture
def task_runs():
    """The runs the in-process worker (``celery_worker``) finishes during the test."""
    from celery import signals

    runs = TaskRuns()
    signals.task_postrun.connect(runs.record, weak=False)
    yield runs
    signals.task_postrun.disconnect(runs.record)


@pytest.fixture(scope="session")
def celery_config(redis_url: str) -> dict:
    return {}


@pytest.fixture(scope="session")
def celery_app(redis_url: str):
    from sync_workers.celery import app

    return app


@pytest.fixture(scope="session")
def celery_worker_parameters() -> dict:
    from sync_workers.celery import QUEUES

    return {"perform_ping_check": False, "queues": QUEUES, "shutdown_timeout": 15}


# -- The engine's own view: ledger and sandboxes at the configured URLs -----------------------


@pytest.fixture(scope="session")
def ledger():
    """The settings' ledger (SQLite in the test data directory, or a PostgreSQL schema under
    ``TEST_LEDGER=postgresql``), migrated once per run."""
    from sync_workers.ledger import get_engine, migrate
    from sync_workers.settings import get_settings

    migrate.upgrade(get_settings().database_url.reveal())
    return get_engine()


@pytest.fixture
def clean_ledger(ledger):
    """The ledger, emptied before the test."""
    from sync_workers.ledger.models import Base

    with ledger.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())
    return ledger


def _serve(kind: str, port: int):
    import importlib

    from sandboxes.common.runner import find_create_app
    from sandboxes.common.server import serve_in_thread

    create_app = find_create_app(kind)
    if create_app is None:
        create_app = getattr(importlib.import_module(f"sandboxes.{kind}.app"), "create_app", None)
    if create_app is None:
        pytest.fail(f"the {kind} sandbox is not available", pytrace=False)
    app = create_app(Path(_DATA) / "sandboxes" / kind, seed=True)
    return serve_in_thread(app, port=port)


@pytest.fixture(scope="session")
def xcart_server():
    """The X-Cart sandbox at ``XCART_BASE_URL`` for the whole run (seeded)."""
    server = _serve("xcart", XCART_PORT)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def acumatica_server():
    """The Acumatica sandbox at ``ACUMATICA_BASE_URL`` for the whole run (seeded)."""
    server = _serve("acumatica", ACUMATICA_PORT)
    yield server
    server.stop()


@pytest.fixture
def sandboxes(xcart_server, acumatica_server, redis_client):
    """Both sandboxes reset to their seed data, with no faults and zeroed stats."""
    import requests

    with requests.Session() as http:
        for server in (xcart_server, acumatica_server):
            for path, body in (
                ("reset", {}),
                ("seed", {}),
                ("faults", {"rules": []}),
                ("stats/reset", {}),
            ):
                answer = http.post(f"{server.url}/_sandbox/{path}", json=body, timeout=60)
                answer.raise_for_status()
    from sync_workers import clients

    clients.close_all()
    return {"xcart": xcart_server, "acumatica": acumatica_server}


def _ledger_schema(statement: str) -> None:
    """Run ``statement`` (``create schema`` or ``drop schema``) on the run's ledger schema."""
    import sqlalchemy

    from sync_workers.ledger.db import make_engine

    admin = make_engine(POSTGRES_TEST_URL)
    try:
        with admin.begin() as conn:
            conn.execute(sqlalchemy.text(statement.format(schema=_LEDGER_SCHEMA)))
    finally:
        admin.dispose()


def pytest_sessionstart(session: pytest.Session) -> None:
    """Under ``TEST_LEDGER=postgresql`` the engine's ledger is a schema of this run, migrated
    before any test (as ``make migrate`` does before the worker starts); without PostgreSQL the
    run stops with an error, whether ``CI`` is set or not."""
    if TEST_LEDGER != "postgresql":
        return
    from sync_workers.ledger import migrate

    try:
        _ledger_schema("create schema {schema}")
    except Exception as exc:
        host = urlsplit(POSTGRES_TEST_URL).netloc.split("@")[-1]
        raise pytest.UsageError(
            f"TEST_LEDGER=postgresql: PostgreSQL at {host} is not reachable: {exc}"
        ) from exc
    migrate.upgrade(os.environ["DATABASE_URL"])


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """The run's data directory (sandbox data, SQLite ledgers) goes with the run, and so does
    its PostgreSQL ledger schema."""
    shutil.rmtree(_DATA, ignore_errors=True)
    if TEST_LEDGER == "postgresql":
        from sync_workers.ledger.db import get_engine

        get_engine(os.environ["DATABASE_URL"]).dispose()
        try:
            _ledger_schema("drop schema if exists {schema} cascade")
        except Exception as exc:
            print(f"\nthe ledger schema {_LEDGER_SCHEMA} was left in place: {exc}")
