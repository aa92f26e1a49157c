"""Licence limits: the documented throttling formula and queue declines, scaled down in time."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from .client import Api


def hit(api: Api) -> tuple[int, float]:
    start = time.monotonic()
    status = requests.get(f"{api.url}/entity", timeout=30).status_code
    return status, time.monotonic() - start


def wait_until_holding_the_slot(api: Api, *, queued: int = 0) -> None:
    """Block until one request is inside the licence gate (and ``queued`` wait), however slowly
    this machine runs."""
    deadline = time.monotonic() + 10
    while True:
        stats = api.control("GET", "/stats")
        if stats["concurrent_requests"] >= 1 and stats["queued_requests"] >= queued:
            return
        assert time.monotonic() < deadline, "the requests never reached the gate"
        time.sleep(0.01)


def test_worked_example_throttle_delay(anon: Api) -> None:
    """Limit 50/min, 25 used, first at 02:40:20, now 02:41:00: 20 s left / 25 left = 0.8 s.

    With a 3-second minute the same point is 2 s after the first request: 1 s / 25 = 0.04 s.
    """
    anon.control("POST", "/licence", {"requests_per_minute": 50, "minute_seconds": 3})
    anon.control("POST", "/stats/reset")
    first = time.monotonic()
    for _ in range(25):
        assert hit(anon)[0] == 200
    assert anon.control("GET", "/stats")["throttled_requests"] == 0  # within the quota
    time.sleep(max(0.0, first + 2.0 - time.monotonic()))
    status, elapsed = hit(anon)
    stats = anon.control("GET", "/stats")
    assert status == 200
    assert stats["throttled_requests"] == 1
    assert stats["last_throttle_delay_seconds"] == pytest.approx(0.04, abs=0.01)
    assert elapsed >= stats["last_throttle_delay_seconds"] * 0.9
    assert stats["requests_per_minute_peak"] == 26


def test_used_up_quota_waits_for_the_next_minute(anon: Api) -> None:
    anon.control("POST", "/licence", {"requests_per_minute": 4, "minute_seconds": 0.6})
    start = time.monotonic()
    for _ in range(5):
        assert hit(anon)[0] == 200
    assert time.monotonic() - start >= 0.55


def test_worked_example_declines_beyond_twenty_queued(anon: Api) -> None:
    """50 simultaneous requests, 16 cores, each taking a while: 16 run, 20 wait, 14 are declined."""
    anon.control("POST", "/licence", {"max_concurrent": 16})
    anon.control("POST", "/faults", {"latency_ms": {"GET": 800}})
    anon.control("POST", "/stats/reset")
    barrier = threading.Barrier(50)

    def one(_: int) -> int:
        barrier.wait()
        return requests.get(f"{anon.url}/entity", timeout=30).status_code

    with ThreadPoolExecutor(max_workers=50) as pool:
        statuses = list(pool.map(one, range(50)))
    assert statuses.count(200) == 36
    assert statuses.count(429) == 14
    stats = anon.control("GET", "/stats")
    assert stats["declined_429"] == 14
    assert stats["peak_concurrent_requests"] == 16
    assert stats["peak_queued_requests"] == 20
    assert stats["requests"]["by_status"]["429"] == 14


def test_request_waiting_too_long_is_declined(anon: Api) -> None:
    anon.control("POST", "/licence", {"max_concurrent": 1, "max_wait_seconds": 0.2})
    anon.control("POST", "/faults", {"latency_ms": {"GET": 4000}})
    with ThreadPoolExecutor(max_workers=2) as pool:
        slow = pool.submit(hit, anon)
        wait_until_holding_the_slot(anon)
        waiting = pool.submit(hit, anon)
        status, elapsed = waiting.result()
        assert status == 429
        # Declined after its 0.2 s, not when the slot frees (4 s): generous, for a loaded machine.
        assert elapsed < 3.0
        assert slow.result()[0] == 200
    body = requests.get(f"{anon.url}/_sandbox/stats", timeout=10).json()
    assert body["declined_429"] == 1


def test_logout_skips_the_queue(api: Api) -> None:
    api.control("POST", "/licence", {"max_concurrent": 1})
    api.control("POST", "/faults", {"latency_ms": {"GET": 1500}})
    with ThreadPoolExecutor(max_workers=3) as pool:
        busy = pool.submit(hit, api)
        queued = pool.submit(hit, api)
        wait_until_holding_the_slot(api, queued=1)
        assert api.logout().status_code == 204
        assert not queued.done()  # the logout was not behind the request queued before it
        assert busy.result()[0] == 200 and queued.result()[0] == 200


def test_licence_settings_are_merged_and_validated(anon: Api) -> None:
    merged = anon.control("POST", "/licence", {"max_sessions": 6})
    assert merged["max_sessions"] == 6 and merged["queue_limit"] == 20
    bad = requests.post(
        f"{anon.url}/_sandbox/licence", json={"requests_per_minute": -1}, timeout=10
    )
    assert bad.status_code == 400
    unknown = requests.post(f"{anon.url}/_sandbox/licence", json={"nope": 1}, timeout=10)
    assert unknown.status_code == 400


def test_documented_formula_gives_point_eight_seconds_in_real_minutes() -> None:
    from sandboxes.acumatica.licence import Gate, Limits

    gate = Gate(Limits(requests_per_minute=50, minute_seconds=60))
    first = 1000.0  # 02:40:20
    for n in range(25):
        assert gate.reserve(first + n * 0.1) == first + n * 0.1
    now = first + 40  # 02:41:00: 20 s and 25 requests left
    assert gate.reserve(now) == pytest.approx(now + 0.8)
    assert gate.reserve(now) == pytest.approx(now + 0.8 + 20 / 24)
    late = first + 61
    assert gate.reserve(late) == late
