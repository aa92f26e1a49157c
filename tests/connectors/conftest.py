"""Connector fixtures: the run's own Redis keys, sandboxes in threads."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import redis
import requests

#: Every Redis key the connector tests write is under this prefix (inside the run's own), so
#: they delete only their own keys and several runs can share one Redis database.
PREFIX = os.environ["REDIS_KEY_PREFIX"] + "connectors:"


def delete_own_keys(client: redis.Redis) -> None:
    keys = list(client.scan_iter(match=PREFIX + "*", count=1000))
    if keys:
        client.delete(*keys)


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    """A client of the test Redis (``TEST_REDIS_URL``); the keys under :data:`PREFIX` are
    deleted before and after each test."""
    client = redis.Redis.from_url(redis_url)
    delete_own_keys(client)
    yield client
    delete_own_keys(client)
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
