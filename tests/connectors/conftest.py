from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
import requests

CONNECTOR_REDIS_DB = 3


@pytest.fixture
def redis_client() -> Iterator[redis.Redis]:
    """Redis DB 3, reserved for connector tests and emptied around each test."""
    client = redis.Redis(host="127.0.0.1", port=6379, db=CONNECTOR_REDIS_DB)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


@pytest.fixture
def xcart_sandbox(tmp_path):
    """A fresh X-Cart sandbox in a thread (catalogue and 5 customers seeded, no orders)."""
    from sync_workers.sandboxes.common.server import serve_in_thread
    from sync_workers.sandboxes.xcart import create_app

    server = serve_in_thread(create_app(tmp_path / "xcart"))
    control = requests.Session()
    control.post(f"{server.url}/_sandbox/seed", json={"customers": 5, "orders": 0}, timeout=30)
    yield server
    control.close()
    server.stop()


@pytest.fixture
def acumatica_sandbox(tmp_path):
    """A fresh, seeded Acumatica sandbox in a thread."""
    from sync_workers.sandboxes.acumatica.app import create_app
    from sync_workers.sandboxes.common.server import serve_in_thread

    server = serve_in_thread(create_app(tmp_path / "acumatica", seed=True))
    yield server
    server.stop()
