"""Figure 5: a backfill of N orders by ``celery -A sync_workers resync orders --all``.

Throughput over the first and the last ``window`` orders (from the ledger's count of orders
with a payment linked, sampled every second) and the RSS of every worker process (main and
pool children, from /proc) sampled every second. Beside the rates, the CPU time per order of
the workers, the sandboxes and Redis over the same two windows (from /proc): a rate that falls
while they stay flat is the machine's doing, not the engine's.
"""

from __future__ import annotations

import subprocess
import time
from typing import Any

from bench.engine import Driver
from bench.measure import RssSampler, cpu_seconds, load
from bench.stack import REPO, Stack


def _bounds(samples: list[tuple[float, int]], total: int, window: int) -> tuple[int, int, int]:
    """Indexes into ``samples``: the end of the first window (the first sample at or above
    ``window``), the start of the last (the last at or below ``total - window``; 0 when none is)
    and its end (the first at or above ``total``)."""
    if total < window or not samples:
        raise ValueError("need at least one window of orders and some samples")

    def first_at_least(n: int) -> int:
        for index, (_, done) in enumerate(samples):
            if done >= n:
                return index
        raise ValueError(f"never reached {n}")

    last_start = 0
    for index, (_, done) in enumerate(samples):
        if done <= total - window:
            last_start = index
    return first_at_least(window), last_start, first_at_least(total)


def window_rates(samples: list[tuple[float, int]], total: int, window: int) -> dict[str, Any]:
    """Orders/second over the first and the last ``window`` orders of ``total``.

    ``samples``: (seconds since start, orders done), increasing. The first window runs from 0
    to the first sample at or above ``window``; the last from the last sample at or below
    ``total - window`` to the first at or above ``total``.
    """
    first_end, last_start, last_end = _bounds(samples, total, window)
    t1, n1 = samples[first_end]
    t2, n2 = samples[last_start]
    t3, n3 = samples[last_end]
    first = n1 / t1 if t1 > 0 else float("inf")
    last = (n3 - n2) / (t3 - t2) if t3 > t2 else float("inf")
    return {
        "first_window_orders_per_second": round(first, 2),
        "last_window_orders_per_second": round(last, 2),
        "end_to_start": round(last / first, 3),
    }


def window_cpu(
    samples: list[tuple[float, int]],
    cpu: list[dict[str, float]],
    start: dict[str, float],
    total: int,
    window: int,
) -> dict[str, dict[str, float]]:
    """Milliseconds of CPU per order of each process group (``cpu[i]``: its seconds at
    ``samples[i]``; ``start``: at 0) over the same two windows as :func:`window_rates`: what
    tells an engine that does more work per order from a machine that gives it less time."""
    first_end, last_start, last_end = _bounds(samples, total, window)

    def per_order(a: dict[str, float], b: dict[str, float], orders: int) -> dict[str, float]:
        return {g: round(1000 * (b[g] - a[g]) / orders, 2) for g in b if g in a and orders > 0}

    return {
        "first_window": per_order(start, cpu[first_end], samples[first_end][1]),
        "last_window": per_order(
            cpu[last_start], cpu[last_end], samples[last_end][1] - samples[last_start][1]
        ),
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
        groups = {"workers": [p.pid for p in stack.workers]}
        for name, proc in (("sandboxes", stack.sandboxes), ("redis", stack.redis)):
            if proc is not None:
                groups[name] = [proc.pid]

        def cpu_now() -> dict[str, float]:
            seconds = iter(cpu_seconds([pid for pids in groups.values() for pid in pids]))
            return {g: sum(next(seconds) for _ in pids) for g, pids in groups.items()}

        load_before = load()
        cpu_start = cpu_now()
        started = time.monotonic()
        subprocess.run(
            stack.python("-m", "celery", "-A", "sync_workers", "resync", "orders", "--all"),
            env=stack.env,
            cwd=REPO,
            check=True,
            capture_output=True,
        )
        samples: list[tuple[float, int]] = []
        cpu: list[dict[str, float]] = []
        loads = [load_before]
        done = 0
        while done < orders and time.monotonic() - started < timeout:
            time.sleep(1.0)
            done = driver.ledger.linked("payments")
            samples.append((time.monotonic() - started, done))
            cpu.append(cpu_now())
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
    result["orders_every_minute"] = [
        {"second": round(moment), "orders": count}
        for n, (moment, count) in enumerate(samples)
        if n % 60 == 59
    ]
    if done >= orders:
        result.update(window_rates(samples, orders, window))
        result["cpu_ms_per_order"] = window_cpu(samples, cpu, cpu_start, orders, window)
    return result
