"""The process-wide Redis client for locks, limits, the dead-letter queue and dedupe keys."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any

import redis

_clients: dict[tuple[int, str], redis.Redis] = {}
_lock = threading.Lock()


def get_redis(url: str | None = None) -> redis.Redis:
    """A client for ``url`` (default: ``REDIS_URL``), one per process (safe after fork)."""
    if url is None:
        from sync_workers.settings import get_settings

        url = get_settings().redis_url.reveal()
    key = (os.getpid(), url)
    with _lock:
        client = _clients.get(key)
        if client is None:
            client = _clients[key] = redis.Redis.from_url(
                url,
                decode_responses=True,
                socket_connect_timeout=5,
                socket_timeout=30,
                health_check_interval=25,
                retry_on_timeout=True,
            )
        return client


def prefixed(*parts: str) -> str:
    """A key under ``REDIS_KEY_PREFIX``: ``prefixed("dlq", "entries")`` → ``sync:dlq:entries``."""
    from sync_workers.settings import get_settings

    return get_settings().redis_key_prefix + ":".join(parts)


def queue_backlog(queue: str) -> int:
    """Messages waiting in the Celery queue ``queue``: on Redis, kombu's list under
    ``REDIS_KEY_PREFIX``; on RabbitMQ (``BROKER_URL``), the queue's ready messages."""
    from sync_workers.celery import on_rabbitmq, rabbitmq_backlog
    from sync_workers.settings import get_settings

    if on_rabbitmq(get_settings().broker_url.reveal()):
        return rabbitmq_backlog(queue)
    return int(get_redis().llen(prefixed(queue)))


#: Queues its reads on a pipeline and returns what turns their replies (in order) into a value.
Reader = Callable[["redis.client.Pipeline"], Callable[[list[Any]], Any]]


def read_together(*readers: Reader) -> list[Any]:
    """Several readers' commands in one round trip; each reader's value, in order.

    A reader queues its commands on the shared pipeline and returns a function of their
    replies (a slice of the pipeline's, as long as the commands it queued)."""
    pipe = get_redis().pipeline(transaction=False)
    spans = []
    for reader in readers:
        start = len(pipe)
        finish = reader(pipe)
        spans.append((start, len(pipe), finish))
    replies = pipe.execute() if len(pipe) else []
    return [finish(replies[start:end]) for start, end, finish in spans]
