from __future__ import annotations

import atexit
import os
import uuid
from collections.abc import Iterator

import pytest
import redis
import requests

OWNER_KEY = "sync-workers-tests:owner"
OWNER_TTL = 3600


def _claim_db(owner: str) -> int:
    """A Redis DB (3-14) no other test run on this machine holds: connector tests empty their
    DB around each test, so two suites run at once must not share one."""
    for db in range(3, 15):
        client = redis.Redis(host="127.0.0.1", port=6379, db=db)
        try:
            if (
                client.set(OWNER_KEY, owner, nx=True, ex=OWNER_TTL)
                or client.get(OWNER_KEY) == owner.encode()
            ):
                return db
        except redis.ConnectionError:
            return 3  # no Redis: the tests that need it fail on their own
        finally:
            client.close()
    raise RuntimeError("Redis DBs 3-14 are all held by other test runs")


_OWNER = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
CONNECTOR_REDIS_DB = _claim_db(_OWNER)


def _release_db() -> None:
    try:
        client = redis.Redis(host="127.0.0.1", port=6379, db=CONNECTOR_REDIS_DB)
        if client.get(OWNER_KEY) == _OWNER.encode():
            client.delete(OWNER_KEY)
        client.close()
    except redis.ConnectionError:
        pass


atexit.register(_release_db)


def _empty(client: redis.Redis) -> None:
    client.flushdb()
    client.set(OWNER_KEY, _OWNER, ex=OWNER_TTL)


@pytest.fixture
def redis_client() -> Iterator[redis.Redis]:
    """A Redis DB of this test run's own, emptied around each test (keeps only its owner key)."""
    client = redis.Redis(host="127.0.0.1", port=6379, db=CONNECTOR_REDIS_DB)
    _empty(client)
    yield client
    _empty(client)
    client.close()


@pytest.fixture
def xcart_sandbox(tmp_path):
    """A fresh X-Cart sandbox in a thread (catalogue and 5 customers seeded, no orders)."""
    from sandboxes.common.server import serve_in_thread
    from sandboxes.xcart import create_app

    server = serve_in_thread(create_app(tmp_path / "xcart"))
    control = requests.Session()
    control.post(f"{server.url}/_sandbox/seed", json={"customers": 5, "orders": 0}, timeout=30)
    yield server
    control.close()
    server.stop()


@pytest.fixture
def acumatica_sandbox(tmp_path):
    """A fresh, seeded Acumatica sandbox in a thread."""
    from sandboxes.acumatica.app import create_app
    from sandboxes.common.server import serve_in_thread

    server = serve_in_thread(create_app(tmp_path / "acumatica", seed=True))
    yield server
    server.stop()
