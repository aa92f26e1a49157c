"""Failure paths that bypass ``on_failure``: a real prefork worker process is killed or timed out."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from sync_workers.settings import get_settings
from sync_workers.task import get_dlq
from tests.foundation import sample_tasks as t
from tests.foundation.test_base_task import open_entries, wait_for

ROOT = Path(__file__).resolve().parents[2]


def _start_worker(**env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "tests.foundation.sample_tasks",
            "worker",
            "-P",
            "prefork",
            "-c",
            "1",
            "-Q",
            "orders",
            "--without-gossip",
            "--without-mingle",
            "-l",
            "INFO",
            "-n",
            f"prefork-{os.getpid()}@%h",
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _stop_worker(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


def pending(redis_client, record_id: str) -> list[str]:
    """Messages of ``record_id`` still on the broker: waiting in the queue, or held by a worker
    until their countdown (a retry)."""
    prefix = get_settings().redis_key_prefix
    raws = [
        *redis_client.lrange(prefix + "orders", 0, -1),
        *redis_client.hvals(prefix + "unacked"),
    ]
    return [raw for raw in raws if f"'record_id': '{record_id}'" in raw]


@pytest.fixture
def prefork_worker(redis_client):
    """``celery worker -P prefork`` in a subprocess, as production runs it."""
    proc = _start_worker()
    yield proc
    _stop_worker(proc)


def test_hard_time_limit_is_dead_lettered_exactly_once(prefork_worker, redis_client) -> None:
    t.sleep_past_hard_limit.apply_async(kwargs={"record_id": "hard-1"})

    [entry] = wait_for(lambda: open_entries("hard-1"), timeout=40)
    _stop_worker(prefork_worker)  # a warm shutdown: whatever the failure still did is done

    assert prefork_worker.returncode == 0
    assert pending(redis_client, "hard-1") == []  # no retry
    assert len(open_entries("hard-1")) == 1
    assert entry.error_class == "TimeLimitExceeded"
    assert entry.task == "tests.orders.sleep_past_hard_limit"
    assert entry.flow == "orders"
    assert len(t.notes("calls", "hard-1")) == 1


def test_lost_worker_is_retried_then_dead_lettered_exactly_once(
    prefork_worker, redis_client
) -> None:
    t.die.apply_async(kwargs={"record_id": "lost-1"})

    [entry] = wait_for(lambda: open_entries("lost-1"), timeout=60)
    _stop_worker(prefork_worker)  # a warm shutdown: whatever the failure still did is done

    assert prefork_worker.returncode == 0
    assert pending(redis_client, "lost-1") == []  # no fifth run on its way
    calls = t.notes("calls", "lost-1")
    assert len(calls) == 4  # first run + RETRY_MAX=3 retries, each killed by SIGKILL
    assert len({c["pid"] for c in calls}) == 4  # a new child process each time
    assert len(open_entries("lost-1")) == 1
    assert entry.error_class == "WorkerLostError"
    assert entry.attempts == 4
    assert get_dlq().count(status="open") == 1


def test_lost_worker_retries_follow_retry_max_not_celerys_default(redis_client) -> None:
    """Celery retries a lost worker's task up to the task's ``max_retries`` (3 by default); the
    engine's budget is ``RETRY_MAX``, so a task killed after its third retry is not given up."""
    proc = _start_worker(RETRY_MAX="5")
    try:
        t.die.apply_async(kwargs={"record_id": "lost-2"})
        [entry] = wait_for(lambda: open_entries("lost-2"), timeout=90)
    finally:
        _stop_worker(proc)  # a warm shutdown: whatever the failure still did is done
    assert pending(redis_client, "lost-2") == []  # no seventh run on its way
    assert len(t.notes("calls", "lost-2")) == 6  # first run + RETRY_MAX=5 retries
    assert entry.attempts == 6
    assert len(open_entries("lost-2")) == 1
