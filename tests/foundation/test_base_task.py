"""The base task through a real worker and real Redis: retries, dead letters, replays, traces."""

from __future__ import annotations

import itertools
import random
import time

import pytest
from celery import chain

from sync_workers.task import backoff_delay, get_dlq
from tests.foundation import sample_tasks as t


def wait_for(predicate, timeout: float = 20.0, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")


def open_entries(record_id: str):
    return list(get_dlq().iter_entries(status="open", record_id=record_id))


def test_backoff_delays_grow_and_stay_within_the_cap() -> None:
    rng = random.Random(7)
    for retries in range(12):
        delay = backoff_delay(retries, base=2, cap=300, rng=rng)
        ceiling = min(300, 2 * 2**retries)
        assert ceiling / 2 <= delay <= ceiling
    lows = [backoff_delay(n, 2, 300, random.Random(0)) for n in range(6)]
    assert all(b > a for a, b in itertools.pairwise(lows))


def test_transient_error_is_retried_with_growing_delays_then_dead_lettered_once(
    redis_client, celery_worker, task_runs
) -> None:
    t.always_transient.apply_async(kwargs={"record_id": "o-1"})

    runs = task_runs.wait("o-1", 4)  # the last run has dead-lettered and retried nothing
    entries = open_entries("o-1")
    calls = t.notes("calls", "o-1")

    assert len(calls) == 4  # first try + RETRY_MAX=3 retries
    assert [run.state for run in runs] == ["RETRY", "RETRY", "RETRY", "FAILURE"]
    gaps = [b["at"] - a["at"] for a, b in itertools.pairwise(calls)]
    # RETRY_BACKOFF_BASE=0.2: the n-th delay is at least 0.2 * 2**n / 2
    for n, gap in enumerate(gaps):
        assert gap >= 0.1 * 2**n * 0.95, gaps
    assert gaps[2] > gaps[0]

    assert len(entries) == 1
    entry = entries[0]
    assert entry.flow == "orders"
    assert entry.task == "tests.orders.always_transient"
    assert entry.step == "always_transient"
    assert entry.kwargs == {"record_id": "o-1"}
    assert entry.error_class == "TransientError"
    assert "503 Service Unavailable" in entry.error_message
    assert "TransientError" in entry.traceback
    assert entry.attempts == 4
    assert entry.first_failed_at < entry.last_failed_at
    assert entry.trace_id and all(c["trace_id"] == entry.trace_id for c in calls)
    assert entry.queue == "orders"


def test_permanent_error_is_dead_lettered_at_once_with_field_reasons(
    redis_client, celery_worker, task_runs
) -> None:
    t.permanent_until_fixed.apply_async(kwargs={"record_id": "o-2"})

    [run] = task_runs.wait("o-2", 1)
    [entry] = open_entries("o-2")

    assert run.state == "FAILURE"  # not RETRY: no retry was sent
    assert len(t.notes("calls", "o-2")) == 1
    assert entry.attempts == 1
    assert entry.error_class == "PermanentError"
    assert entry.field_errors == {"Details[0].InventoryID": "'NOPE' cannot be found in the system."}
    assert len(open_entries("o-2")) == 1


def test_transient_error_that_clears_is_not_dead_lettered(
    redis_client, celery_worker, task_runs
) -> None:
    t.flaky_then_ok.apply_async(kwargs={"record_id": "o-3", "failures": 2})

    runs = task_runs.wait("o-3", 3)

    assert [run.state for run in runs] == ["RETRY", "RETRY", "SUCCESS"]
    assert len(t.notes("calls", "o-3")) == 3
    assert open_entries("o-3") == []


def test_retry_that_cannot_be_published_returns_the_message_instead_of_dead_lettering(
    redis_client, celery_worker, task_runs
) -> None:
    """Celery drops a message whose retry it cannot publish (Redis still loading after a restart);
    the base task hands it back to the broker, so the record is tried again, not lost."""
    t.retry_publish_fails_once.apply_async(kwargs={"record_id": "o-9"})

    runs = task_runs.wait("o-9", 3)

    assert [run.state for run in runs] == ["REJECTED", "RETRY", "SUCCESS"]
    assert len(t.notes("calls", "o-9")) == 3  # fails, redelivered and fails, retried and succeeds
    assert redis_client.get(t.prefixed("test", "publish", "o-9")) == "2"
    assert open_entries("o-9") == []


def test_a_soft_time_limit_while_noting_the_first_failure_still_retries(
    redis_client, celery_worker, task_runs
) -> None:
    """A host cut off from Redis reaches the soft time limit while noting a transient failure;
    the retry still goes instead of the limit dead-lettering a valid record."""
    t.soft_limit_while_noting_failure.apply_async(kwargs={"record_id": "o-10"})

    runs = task_runs.wait("o-10", 2)

    assert [run.state for run in runs] == ["RETRY", "SUCCESS"]
    assert redis_client.get(t.prefixed("test", "soft-limit", "o-10")) == "1"
    assert open_entries("o-10") == []


def test_waiting_for_a_licence_seat_does_not_spend_the_records_retries(
    redis_client, celery_worker, task_runs
) -> None:
    """Every seat taken (sessions of killed workers held until Acumatica's idle timeout) is a
    wait of the whole fleet: more such waits than RETRY_MAX (3 here) still end in success."""
    t.login_limit_then_ok.apply_async(kwargs={"record_id": "o-11", "waits": 6})

    runs = task_runs.wait("o-11", 7)

    assert [run.state for run in runs] == ["RETRY"] * 6 + ["SUCCESS"]
    assert len(t.notes("calls", "o-11")) == 7
    assert open_entries("o-11") == []


def test_waiting_for_a_licence_seat_counts_once_the_fleet_wait_limit_has_passed(
    redis_client, celery_worker, task_runs, monkeypatch
) -> None:
    import sync_workers.task

    monkeypatch.setattr(sync_workers.task, "FLEET_WAIT_LIMIT", 0.0)
    t.login_limit_then_ok.apply_async(kwargs={"record_id": "o-12", "waits": 6})

    runs = task_runs.wait("o-12", 4)

    assert [run.state for run in runs] == ["RETRY", "RETRY", "RETRY", "FAILURE"]
    (entry,) = open_entries("o-12")
    assert entry.error_class == "LoginLimitReached"


def test_a_message_that_expires_before_its_retry_would_run_is_not_retried(
    redis_client, celery_worker, task_runs
) -> None:
    """A scheduled poll carries an expiry (the next poll does the same work); its retry would
    be discarded on arrival, so none is sent and nothing is dead-lettered."""
    t.fails_after_expiry.apply_async(kwargs={"record_id": "o-11", "seconds": 0.6}, expires=0.4)
    t.fails_after_expiry.apply_async(kwargs={"record_id": "o-12", "seconds": 0.0}, expires=30)

    [expired] = task_runs.wait("o-11", 1)
    task_runs.wait("o-12", 2)  # unexpired: retried as usual
    assert expired.state == "IGNORED"  # ended without a retry
    assert len(t.notes("calls", "o-11")) == 1
    assert redis_client.get(t.prefixed("test", "retries", "o-11")) is None
    assert int(redis_client.get(t.prefixed("test", "retries", "o-12")) or 0) >= 1
    assert open_entries("o-11") == []


def test_replayed_entry_runs_again_with_edited_payload_and_leaves_an_audit_trail(
    redis_client, celery_worker, task_runs
) -> None:
    from sync_workers.celery import publish

    t.permanent_until_fixed.apply_async(kwargs={"record_id": "o-4"})
    [entry] = wait_for(lambda: open_entries("o-4"))

    dlq = get_dlq()
    new_task_id = dlq.replay(
        entry.id, publish, by="ops@example", kwargs={"record_id": "o-4", "sku": "AA-0001"}
    )

    assert [run.state for run in task_runs.wait("o-4", 2)] == ["FAILURE", "SUCCESS"]
    replayed = dlq.get(entry.id)
    assert [c["sku"] for c in t.notes("calls", "o-4")] == ["NOPE", "AA-0001"]
    assert replayed.status == "replayed"
    assert replayed.replays[0]["task_id"] == new_task_id
    assert replayed.replays[0]["edited"] is True
    assert [a["action"] for a in replayed.audit] == ["dead-lettered", "replayed"]
    assert open_entries("o-4") == []
    actions = [(a["action"], a["entry"]) for a in dlq.audit_log()]
    assert ("replayed", entry.id) in actions and ("dead-lettered", entry.id) in actions
    # The replay carries the original trace id.
    assert t.notes("calls", "o-4")[1]["trace_id"] == entry.trace_id


def test_replay_continues_the_rest_of_the_chain(redis_client, celery_worker) -> None:
    from sync_workers.celery import publish

    chain(t.fetch.s(record_id="o-5"), t.push.s(), t.write_back.s()).apply_async()
    [entry] = wait_for(lambda: open_entries("o-5"))
    assert entry.step == "push" and entry.record_id == "o-5"
    assert [s["step"] for s in t.notes("steps", "o-5")] == ["fetch", "push"]

    t.switch_on("fixed:o-5")
    get_dlq().replay(entry.id, publish, by="ops")

    wait_for(lambda: len(t.notes("steps", "o-5")) == 4)
    steps = t.notes("steps", "o-5")
    assert [s["step"] for s in steps] == ["fetch", "push", "push", "write_back"]
    assert len({s["trace_id"] for s in steps}) == 1


def test_resolve_and_purge_are_audited_and_purge_keeps_open_entries(
    redis_client, celery_worker
) -> None:
    for rid in ("o-6", "o-7"):
        t.permanent_until_fixed.apply_async(kwargs={"record_id": rid})
    wait_for(lambda: open_entries("o-6") and open_entries("o-7"))
    dlq = get_dlq()
    [six] = open_entries("o-6")
    dlq.resolve(six.id, by="ops", note="fixed the SKU by hand")

    assert dlq.purge(by="ops", status="resolved") == 1
    assert open_entries("o-7")
    assert dlq.count(status="open") == 1
    actions = [a["action"] for a in dlq.audit_log()]
    assert actions[:3] == ["purged", "data dropped", "resolved"]
    with pytest.raises(KeyError):
        dlq.get(six.id)
