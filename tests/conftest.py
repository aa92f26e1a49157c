"""Test-wide set-up: real Redis and PostgreSQL, an isolated key prefix and data directory.

Environment variables are fixed here, before anything imports ``sync_workers``, so the settings
object, the Celery app and the Redis client all point at test resources. Under ``CI=true`` a
missing Redis or PostgreSQL fails the run instead of skipping.
"""

from __future__ import annotations

import os
import tempfile
import uuid

import pytest

_RUN = uuid.uuid4().hex[:8]
_DATA = tempfile.mkdtemp(prefix=f"sync-workers-test-{_RUN}-")
REDIS_TEST_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
POSTGRES_TEST_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")

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
        "LOG_FORMAT": "text",
    }
)
for _name in list(os.environ):
    if _name.startswith(("XCART_", "ACUMATICA_", "SENTRY_", "DATABASE_URL", "WEBHOOK_")):
        del os.environ[_name]

pytest_plugins = ("celery.contrib.pytest",)


def _service_missing(what: str, exc: Exception) -> None:
    message = f"{what} is not reachable: {exc}"
    if os.environ.get("CI") == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


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
