from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time

import pytest

from sync_workers.connectors.errors import RateLimited
from sync_workers.connectors.limits import _ACQUIRE, SharedLimits
from tests.connectors.conftest import PREFIX


def test_concurrency_never_exceeds_the_cap_across_clients(redis_client):
    limits = [
        SharedLimits(redis_client, "sys", max_concurrent=2, max_wait=10, prefix=PREFIX)
        for _ in range(5)
    ]
    lock, current, peak = threading.Lock(), [0], [0]

    def work(shared: SharedLimits) -> None:
        for _ in range(4):
            with shared.slot():
                with lock:
                    current[0] += 1
                    peak[0] = max(peak[0], current[0])
                time.sleep(0.01)
                with lock:
                    current[0] -= 1

    threads = [threading.Thread(target=work, args=(item,)) for item in limits]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert peak[0] == 2
    assert limits[0].in_flight() == 0


def test_dead_holders_lease_expires(redis_client):
    dead = SharedLimits(
        redis_client, "sys", max_concurrent=1, lease_seconds=0.3, max_wait=0.1, prefix=PREFIX
    )
    context = dead.slot()
    context.__enter__()  # never released: the process "died"
    alive = SharedLimits(
        redis_client, "sys", max_concurrent=1, lease_seconds=0.3, max_wait=0.1, prefix=PREFIX
    )
    with pytest.raises(RateLimited), alive.slot():
        pass
    time.sleep(0.35)
    with alive.slot():
        assert alive.in_flight() == 1


def test_rate_is_shared_and_waits_for_the_window(redis_client):
    one = SharedLimits(
        redis_client,
        "sys",
        requests_per_window=5,
        window_seconds=1,
        window_margin_seconds=0,
        max_wait=5,
        prefix=PREFIX,
    )
    two = SharedLimits(
        redis_client,
        "sys",
        requests_per_window=5,
        window_seconds=1,
        window_margin_seconds=0,
        max_wait=5,
        prefix=PREFIX,
    )
    started = time.monotonic()
    for i in range(10):
        with (one if i % 2 else two).slot():
            pass
    assert time.monotonic() - started >= 0.9


def test_rate_wait_longer_than_max_wait_raises(redis_client):
    limits = SharedLimits(
        redis_client, "sys", requests_per_window=1, window_seconds=10, max_wait=0.2, prefix=PREFIX
    )
    with limits.slot():
        pass
    with pytest.raises(RateLimited) as caught, limits.slot():
        pass
    assert caught.value.retry_after > 5


def test_429_pauses_every_client_and_grows(redis_client):
    one = SharedLimits(
        redis_client, "sys", backoff_base=0.2, backoff_cap=5, max_wait=0.05, prefix=PREFIX
    )
    two = SharedLimits(
        redis_client, "sys", backoff_base=0.2, backoff_cap=5, max_wait=0.05, prefix=PREFIX
    )
    assert one.penalize() == pytest.approx(0.2)
    assert two.penalize() == pytest.approx(0.4)
    with pytest.raises(RateLimited), two.slot():
        pass
    assert one.penalize(retry_after=3) == pytest.approx(3)
    one.relax()
    assert redis_client.get(PREFIX + "limits:sys:strikes") is None


def test_short_cooldown_is_waited_out(redis_client):
    limits = SharedLimits(redis_client, "sys", backoff_base=0.15, max_wait=2, prefix=PREFIX)
    limits.penalize()
    started = time.monotonic()
    with limits.slot():
        pass
    assert time.monotonic() - started >= 0.14


def test_one_round_trip_takes_a_slot_and_a_request_waiting_for_the_rate_holds_no_slot(
    redis_client,
):
    limits = SharedLimits(
        redis_client,
        "sys",
        requests_per_window=2,
        window_seconds=1,
        window_margin_seconds=0,
        max_concurrent=1,
        max_wait=0.2,
        prefix=PREFIX,
    )
    redis_client.script_load(_ACQUIRE)  # as after the first request of the process
    calls: list[str] = []
    original = redis_client.execute_command

    def counting(*args, **kwargs):
        calls.append(str(args[0]))
        return original(*args, **kwargs)

    redis_client.execute_command = counting
    try:
        with limits.slot():
            assert calls == ["EVALSHA"]
            assert limits.in_flight() == 1
    finally:
        redis_client.execute_command = original
    with limits.slot():
        pass
    assert limits.in_window() == 2
    with pytest.raises(RateLimited) as caught, limits.slot():
        pass
    assert caught.value.details["reason"] == "rate limit"
    assert limits.in_flight() == 0  # the refused request took no concurrency lease
    time.sleep(1.05)
    assert limits.in_window() == 0


def test_a_slot_taken_counts_the_request_in_the_same_round_trip(redis_client, monkeypatch):
    counter = f"{PREFIX}ops:acumatica_requests"
    limits = SharedLimits(
        redis_client, "sys", max_concurrent=1, max_wait=0.1, requests_per_window=2, prefix=PREFIX
    )
    sent: list[str] = []
    original = redis_client.execute_command

    def counting(*args, **kwargs):
        sent.append(str(args[0]).upper())
        return original(*args, **kwargs)

    monkeypatch.setattr(redis_client, "execute_command", counting)

    with (
        limits.slot((counter, "contract")),
        pytest.raises(RateLimited),
        limits.slot((counter, "contract")),
    ):
        pytest.fail("a second slot over the concurrency cap")  # not sent: not counted
    with limits.slot():
        pass  # not counted: no counter given
    with pytest.raises(RateLimited), limits.slot((counter, "contract")):
        pytest.fail("a slot over the rate window")  # not sent: not counted

    assert int(redis_client.hget(counter, "contract")) == 1
    assert "HINCRBY" not in sent  # counted by the script that took the slot


SLOT_HOLDER = """
import sys, time
import redis
from sync_workers import locks
from sync_workers.connectors.limits import SharedLimits
locks.HOLDER_SECONDS = float(sys.argv[1])
limits = SharedLimits(
    redis.Redis.from_url(sys.argv[2]), "sys", max_concurrent=1, lease_seconds=60, prefix=sys.argv[3]
)
with limits.slot(heartbeat=locks.heartbeat_key()):
    print("held", flush=True)
    time.sleep(60)
"""


def test_a_killed_processs_slot_is_free_once_its_heartbeat_is_gone_not_when_its_lease_ends(
    redis_client, redis_url, monkeypatch
):
    """A real process takes the only slot (lease 60 s, heartbeat living 1 s) and is SIGKILLed:
    the slot stays taken while its heartbeat lives, then is free, 59 s before its lease ends. A
    live process's slot is never taken, however long it is held."""
    from sync_workers import locks

    monkeypatch.setattr(locks, "HOLDER_SECONDS", 1.0)
    proc = subprocess.Popen(
        [sys.executable, "-c", SLOT_HOLDER, "1", redis_url, PREFIX],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "held\n"
        (token,) = redis_client.zrange(PREFIX + "limits:sys:inflight", 0, -1)
        heartbeat = token.decode().split("|")[0]
        assert heartbeat.startswith(locks.prefixed("alive", ""))
        other = SharedLimits(
            redis_client, "sys", max_concurrent=1, lease_seconds=60, max_wait=0.2, prefix=PREFIX
        )
        time.sleep(1.5)  # past the heartbeat's life: renewed, so the slot is still the holder's
        with pytest.raises(RateLimited), other.slot(heartbeat=locks.heartbeat_key()):
            pass

        proc.send_signal(signal.SIGKILL)
        proc.wait()
        with pytest.raises(RateLimited), other.slot(heartbeat=locks.heartbeat_key()):
            pass  # its heartbeat still lives: the request may still be in flight
        deadline = time.monotonic() + 5
        while redis_client.exists(heartbeat):
            assert time.monotonic() < deadline, "the heartbeat outlived its process"
            time.sleep(0.05)

        with other.slot(heartbeat=locks.heartbeat_key()):
            assert other.in_flight() == 1
            mine = redis_client.zrange(PREFIX + "limits:sys:inflight", 0, -1)
            assert [t.decode().split("|")[0] for t in mine] == [locks.heartbeat_key()]
        assert other.in_flight() == 0
    finally:
        proc.kill()
        proc.wait()
