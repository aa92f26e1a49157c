"""Record locks in the real Redis: all or none, re-entrant within a task, one round trip."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from sync_workers import locks
from sync_workers.errors import TransientError
from sync_workers.locks import record_lock, record_locks
from sync_workers.redis_client import prefixed


def name(flow: str, record_id: str) -> str:
    return prefixed("lock", flow, record_id)


@pytest.fixture
def commands(redis_client, monkeypatch) -> list[str]:
    """The commands the engine's client sends from now on."""
    sent: list[str] = []
    original = redis_client.execute_command
    test = threading.current_thread()

    def counting(*args, **kwargs):
        if threading.current_thread() is test:  # not the heartbeat's renewals
            sent.append(str(args[0]))
        return original(*args, **kwargs)

    monkeypatch.setattr(redis_client, "execute_command", counting)
    return sent


def test_several_locks_are_taken_in_one_round_trip_and_released_in_one(
    redis_client, commands
) -> None:
    with record_lock("orders", "0"):  # the first use loads the scripts into Redis
        pass
    commands.clear()
    records = [("orders", "1"), ("payments", "11"), ("payments", "12")]
    with record_locks(records):
        taking = list(commands)
        assert all(redis_client.exists(name(*r)) for r in records)
        commands.clear()
    assert taking == ["EVALSHA"]
    assert commands == ["EVALSHA"]  # the release
    assert not any(redis_client.exists(name(*r)) for r in records)


def test_a_lock_the_task_holds_is_taken_again_without_asking_redis(redis_client, commands) -> None:
    with record_locks([("orders", "1"), ("payments", "11")]):
        before = len(commands)
        assert before >= 1
        with record_lock("payments", "11", wait=5), record_lock("orders", "1"):
            assert len(commands) == before  # re-entrant: no round trip
        assert redis_client.exists(name("payments", "11"))  # the inner block kept it
        with record_lock("payments", "12"):  # one it does not hold yet: taken, then released
            assert redis_client.exists(name("payments", "12"))
        assert not redis_client.exists(name("payments", "12"))
        assert redis_client.exists(name("orders", "1"))
    assert not redis_client.exists(name("orders", "1"))


def test_a_busy_record_takes_none_of_the_locks_and_is_named(redis_client) -> None:
    other = redis_client.lock(name("payments", "12"), timeout=60)  # another worker's, redis-py's
    assert other.acquire(blocking=False)
    busy = "payments record 12 is being processed"
    records = [("orders", "1"), ("payments", "11"), ("payments", "12")]
    with pytest.raises(TransientError, match=busy) as raised, record_locks(records):
        pytest.fail("the block ran without the lock")
    assert raised.value.details == {"flow": "payments", "record_id": "12", "reason": "locked"}
    assert not redis_client.exists(name("orders", "1"))
    assert not redis_client.exists(name("payments", "11"))
    other.release()

    with record_lock("payments", "12"):  # the engine's lock keeps redis-py's out, too
        assert not redis_client.lock(name("payments", "12"), timeout=60).acquire(blocking=False)


def lock_timeout() -> float:
    from sync_workers.settings import get_settings

    return get_settings().lock_timeout


def test_a_lock_waits_for_the_holder_up_to_its_wait(redis_client) -> None:
    # another worker's lock, just taken (record locks all live LOCK_TIMEOUT)
    other = redis_client.lock(name("orders", "1"), timeout=lock_timeout(), thread_local=False)
    assert other.acquire(blocking=False)
    threading.Timer(0.3, other.release).start()
    started = time.monotonic()
    with record_locks([("orders", "1"), ("payments", "11")], wait=5):
        waited = time.monotonic() - started
        assert redis_client.exists(name("payments", "11"))
    # Taken when the holder let go (0.3 s), not after the whole wait (5 s); 3 s leaves a loaded
    # machine ten times the release time and still tells the two apart.
    assert 0.25 <= waited < 3

    assert other.acquire(blocking=False)
    started = time.monotonic()
    with pytest.raises(TransientError), record_lock("orders", "1", wait=0.3):
        pytest.fail("the block ran without the lock")
    assert 0.3 <= time.monotonic() - started < 3  # gave up after its wait; did not hang
    other.release()


def test_a_lock_held_longer_than_the_wait_is_not_waited_for_and_its_retry_waits_on(
    redis_client,
) -> None:
    """A holder killed with its worker leaves its lock until it expires: a lock already held
    longer than the wait gives up at once, asking for twice its age, never past its expiry."""
    timeout = lock_timeout()
    redis_client.set(name("orders", "1"), "killed-workers-token", px=int((timeout - 30) * 1000))

    started = time.monotonic()
    with pytest.raises(TransientError) as raised, record_lock("orders", "1", wait=20):
        pytest.fail("the block ran without the lock")

    assert time.monotonic() - started < 3  # did not wait 20 s for a lock held 30 s
    assert 59 <= raised.value.retry_after <= 61  # twice its age (30 s and the time to ask)
    redis_client.set(name("orders", "1"), "killed-workers-token", px=10_000)
    with pytest.raises(TransientError) as raised, record_lock("orders", "1", wait=5):
        pytest.fail("the block ran without the lock")
    assert 9 <= raised.value.retry_after <= 10  # never past the expiry


def test_a_lock_that_expired_and_was_taken_by_another_is_left_to_it(redis_client) -> None:
    with record_lock("orders", "1"):
        redis_client.set(name("orders", "1"), "another-workers-token")  # ours expired meanwhile
    assert redis_client.get(name("orders", "1")) == "another-workers-token"


def test_a_lock_expires_after_the_lock_timeout(redis_client) -> None:
    from sync_workers.settings import get_settings

    with record_lock("orders", "1"):
        ttl = redis_client.pttl(name("orders", "1"))
    assert 0 < ttl <= get_settings().lock_timeout * 1000


HOLDER = """
import sys, time
from sync_workers import locks
locks.HOLDER_SECONDS = float(sys.argv[1])
with locks.record_lock("orders", "77"):
    print("held", flush=True)
    sys.stdin.readline()
print("released", flush=True)
time.sleep(60)
"""


@pytest.fixture
def holder(redis_client, monkeypatch):
    """Another process holding ``orders``/``77`` (its heartbeat living 1 s); this process's
    ``HOLDER_SECONDS`` set alike."""
    monkeypatch.setattr(locks, "HOLDER_SECONDS", 1.0)
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, "1"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline() == "held\n"
    yield proc
    proc.kill()
    proc.wait()


def heartbeat_of(redis_client, lock_name: str) -> str:
    """The heartbeat key of the process the lock's value names."""
    return locks.prefixed("alive", redis_client.get(lock_name).rsplit("/", 1)[0])


def busy_retry(record_id: str = "77") -> float:
    with pytest.raises(TransientError) as raised, record_lock("orders", record_id):
        pytest.fail("the block ran without the lock")
    return raised.value.retry_after


def test_a_killed_holders_lock_is_taken_over_once_its_heartbeat_has_been_gone_a_while(
    redis_client, holder
) -> None:
    lock_name = name("orders", "77")
    alive = heartbeat_of(redis_client, lock_name)
    assert redis_client.pttl(alive) > 0
    assert 1 <= busy_retry() <= 2  # a live holder: asked again within 2 x HOLDER_SECONDS

    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    deadline = time.monotonic() + 5
    while redis_client.exists(alive):
        assert time.monotonic() < deadline, "the heartbeat outlived its holder"
        time.sleep(0.05)
    assert busy_retry() == 1.0  # gone: noted, taken over after HOLDER_SECONDS more
    time.sleep(0.5)
    assert busy_retry() == 1.0  # still within that time (never less than a second)
    time.sleep(0.6)

    with record_lock("orders", "77"):
        assert redis_client.get(lock_name).startswith(locks._heartbeat.name() + "/")
    assert not redis_client.exists(lock_name)


def test_a_live_holder_keeps_its_lock_even_when_its_heartbeat_is_lost_for_a_moment(
    redis_client, holder
) -> None:
    """A heartbeat lost (a Redis restart without it) is renewed before the take-over's time."""
    alive = heartbeat_of(redis_client, name("orders", "77"))
    until = time.monotonic() + 3.5  # three and a half lives of the heartbeat
    while time.monotonic() < until:
        redis_client.delete(alive)
        busy_retry()
        time.sleep(0.3)
        busy_retry()
        time.sleep(0.3)
    assert redis_client.exists(alive)

    assert holder.stdin is not None and holder.stdout is not None
    holder.stdin.write("\n")
    holder.stdin.flush()
    assert holder.stdout.readline() == "released\n"
    with record_lock("orders", "77"):
        pass


def test_a_lock_taken_from_a_holder_killed_during_a_write_sends_no_create_until_it_cannot_land(
    redis_client, holder
) -> None:
    """A holder killed during a write: the remote system may still carry the write out for the
    request's time in flight (its write mark). The lock is taken over as for any gone holder,
    but a create whose earlier PUT is not found is not sent again until then."""
    holder_name = redis_client.get(name("orders", "77")).rsplit("/", 1)[0]
    redis_client.set(locks.prefixed("writing", holder_name), "1", px=4000)
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    while redis_client.exists(locks.prefixed("alive", holder_name)):
        time.sleep(0.05)
    busy_retry()
    time.sleep(1.05)

    locks.check_no_write_in_flight()  # no lock taken over: nothing to wait for
    with record_lock("orders", "77"):
        with pytest.raises(TransientError, match="may still be carried out") as raised:
            locks.check_no_write_in_flight()
        assert 1 <= raised.value.retry_after <= 3
        assert raised.value.details == {"reason": "write in flight"}
        while redis_client.exists(locks.prefixed("writing", holder_name)):
            time.sleep(0.05)
        time.sleep(0.05)
        locks.check_no_write_in_flight()  # the write can no longer land
    locks.check_no_write_in_flight()
