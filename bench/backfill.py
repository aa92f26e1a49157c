"""Figure 5: a backfill of N orders by ``celery -A sync_workers resync orders --all``.

Throughput over the first and the last ``window`` orders (from the ledger's count of orders
with a payment linked, sampled every second) and the RSS of every worker process (main and
pool children, from /proc) sampled every second.
"""

from __future__ import annotations

import subprocess
import time
from typing import Any

from bench.engine import Driver
from bench.measure import RssSampler, load
from bench.stack import REPO, Stack


def window_rates(samples: list[tuple[float, int]], total: int, window: int) -> dict[str, Any]:
    """Orders/second over the first and the last ``window`` orders of ``total``.

    ``samples``: (seconds since start, orders done), increasing. The first window runs from 0
    to the first sample at or above ``window``; the last from the last sample at or below
    ``total - window`` to the first at or above ``total``.
    """
    if total < window or not samples:
        raise ValueError("need at least one window of orders and some samples")

    def first_at_least(n: int) -> tuple[float, int]:
        for moment, done in samples:
            if done >= n:
                return moment, done
        raise ValueError(f"never reached {n}")

    def last_at_most(n: int) -> tuple[float, int]:
        found = samples[0]
        for moment, done in samples:
            if done <= n:
                found = (moment, done)
        return found

    t1, n1 = first_at_least(window)
    t2, n2 = last_at_most(total - window)
    t3, n3 = first_at_least(total)
    first = n1 / t1 if t1 > 0 else float("inf")
    last = (n3 - n2) / (t3 - t2) if t3 > t2 else float("inf")
    return {
        "first_window_orders_per_second": round(first, 2),
        "last_window_orders_per_second": round(last, 2),
        "end_to_start": round(last / first, 3),
    }


def run(
    *, orders: int, window: int, workers: int, concurrency: int, buyers: int, timeout: float
) -> dict[str, Any]:
    with Stack(name="bench-backfill") as stack:
        stack.start_redis()
        stack.start_sandboxes()
        stack.migrate()
        stack.apply_env()
        driver = Driver(stack)
        driver.raise_stock()
        placing = time.monotonic()
        driver.place(orders, buyers=buyers)
        placing = time.monotonic() - placing
        for index in range(workers):
            stack.start_worker(index, concurrency)
        driver.wait_workers(workers)
        sampler = RssSampler({p.name: p.pid for p in stack.workers})
        sampler.start()
        rss_start = sampler.snapshot()
        load_before = load()
        started = time.monotonic()
        subprocess.run(
            stack.python("-m", "celery", "-A", "sync_workers", "resync", "orders", "--all"),
            env=stack.env,
            cwd=REPO,
            check=True,
            capture_output=True,
        )
        samples: list[tuple[float, int]] = []
        loads = [load_before]
        done = 0
        while done < orders and time.monotonic() - started < timeout:
            time.sleep(1.0)
            done = driver.ledger.linked("payments")
            samples.append((time.monotonic() - started, done))
            if len(samples) % 60 == 0:
                loads.append(load())
        elapsed = time.monotonic() - started
        loads.append(load())
        sampler.stop()
        import redis

        memory = redis.Redis.from_url(stack.env["REDIS_URL"]).info("memory")
        stack.stop_workers()
    result: dict[str, Any] = {
        "orders": orders,
        "window": window,
        "workers": workers,
        "concurrency": concurrency,
        "completed": done,
        "seconds": round(elapsed, 1),
        "orders_per_second": round(done / elapsed, 2),
        "checkout_seconds": round(placing, 1),
        "rss_kib_start": rss_start,
        "rss_kib_peak": sampler.peaks(),
        "rss_kib_end": sampler.samples[-1][1] if sampler.samples else {},
        "rss_kib_every_minute": [
            {"second": round(moment - started), **snap}
            for n, (moment, snap) in enumerate(sampler.samples)
            if n % 60 == 0
        ],
        "load_samples": loads,
        "redis_used_memory_peak_mib": round(memory["used_memory_peak"] / 2**20, 1),
    }
    if done >= orders:
        result.update(window_rates(samples, orders, window))
    return result
