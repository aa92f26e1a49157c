"""A worker process of the fleet tests: its own Redis client and Acumatica client, several
threads sending reads, a Redis barrier so every process starts together."""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any

import redis

from sync_workers.connectors.acumatica.client import AcumaticaClient
from sync_workers.connectors.config import AcumaticaConfig
from sync_workers.errors import SyncError


def run(
    settings: dict[str, Any],
    requests_per_process: int,
    threads: int,
    processes: int,
    redis_url: str,
    prefix: str,
) -> dict[str, Any]:
    """Send ``requests_per_process`` reads over ``threads`` threads, with the Redis keys of the
    Acumatica client and of the barrier under ``prefix``; the outcomes counted by kind."""
    client_redis = redis.Redis.from_url(redis_url)
    client = AcumaticaClient(
        AcumaticaConfig(**settings), client_redis, register_atexit=False, prefix=prefix
    )
    client_redis.incr(prefix + "fleet:ready")
    deadline = time.monotonic() + 60
    while (
        int(client_redis.get(prefix + "fleet:ready") or 0) < processes
        and time.monotonic() < deadline
    ):
        time.sleep(0.01)
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()
    shares = [
        requests_per_process // threads + (i < requests_per_process % threads)
        for i in range(threads)
    ]

    def work(count: int) -> None:
        for n in range(count):
            try:
                client.get_list("StockItem", select=["InventoryID"], top=1, skip=n % 50)
                result = "ok"
            except SyncError as exc:
                result = type(exc).__name__
            with lock:
                outcomes[result] += 1
            client_redis.incr(prefix + "fleet:done")

    workers = [threading.Thread(target=work, args=(share,)) for share in shares]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    client_redis.incr(prefix + "fleet:finished")
    while (
        int(client_redis.get(prefix + "fleet:finished") or 0) < processes
        and time.monotonic() < deadline
    ):
        time.sleep(0.01)  # sign out only once every process is done, like a fleet shutdown
    client.close()
    client_redis.close()
    return dict(outcomes)
