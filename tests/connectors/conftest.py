from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

CONNECTOR_REDIS_DB = 3


@pytest.fixture
def redis_client() -> Iterator[redis.Redis]:
    """Redis DB 3, reserved for connector tests and emptied around each test."""
    client = redis.Redis(host="127.0.0.1", port=6379, db=CONNECTOR_REDIS_DB)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()
