"""Two processes replay one dead letter at once (the CLI and the console, two operators): one
message is published and one replay recorded, never two."""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys

import pytest

from sync_workers.celery import publish
from sync_workers.dlq import REPLAY_LEASE_SECONDS, DeadLetter, EntryStateError
from sync_workers.task import get_dlq
from tests.cli.conftest import queued
from tests.cli.test_dlq import wait_for
from tests.foundation import interleave

SPAWN = multiprocessing.get_context("spawn")
#: A process start (spawn, imports) plus its work, on a loaded 2-core machine.
PROCESS_SECONDS = 60


def add_entry(record_id: str) -> DeadLetter:
    entry = DeadLetter(
        flow="orders",
        record_id=record_id,
        task="tasks.orders.push",
        step="push",
        task_id=f"task-orders-{record_id}",
        args=[],
        kwargs={"record_id": record_id},
        error_class="PermanentError",
        error_message="bad SKU",
    )
    assert get_dlq().add(entry)
    return entry


def join(*processes) -> None:
    for process in processes:
        process.join(PROCESS_SECONDS)
    codes = [process.exitcode for process in processes]
    for process in processes:
        if process.is_alive():
            process.kill()
    assert codes == [0] * len(processes), f"exit codes {codes}"


def cli_replay(*args: str) -> subprocess.CompletedProcess[str]:
    """``celery -A sync_workers dlq replay ...`` as an operator runs it, in a process of its own."""
    return subprocess.run(
        [sys.executable, "-m", "celery", "-A", "sync_workers", "dlq", "replay", *args],
        capture_output=True,
        text=True,
        timeout=PROCESS_SECONDS,
        env=os.environ.copy(),
        check=False,
    )


def test_a_replay_started_while_another_is_publishing_is_refused(redis_client) -> None:
    entry = add_entry("1001")
    inside, go, results = SPAWN.Event(), SPAWN.Event(), SPAWN.Queue()
    first = SPAWN.Process(target=interleave.held_replay, args=(entry.id, inside, go, results))
    first.start()
    try:
        assert inside.wait(PROCESS_SECONDS), "the first replay never reached its publish"
        plain = cli_replay(entry.id, "--json")
        forced = cli_replay(entry.id, "--force", "--json")
        assert queued(redis_client, "orders") == []  # the first replay is still held
    finally:
        go.set()
        outcome = results.get(timeout=PROCESS_SECONDS)
        join(first)

    for refused in (plain, forced):
        assert refused.returncode == 1, refused.stderr
        [failure] = json.loads(refused.stdout)["refused"]
        assert failure == {
            "id": entry.id,
            "error": f"entry {entry.id} is being replayed right now; try again",
        }
    messages = queued(redis_client, "orders")
    stored = get_dlq().get(entry.id)
    assert [m["headers"]["dlq_replay_of"] for m in messages] == [entry.id]
    assert stored.status == "replayed"
    assert [r["task_id"] for r in stored.replays] == [outcome["task_id"]]
    assert not redis_client.exists(get_dlq()._key("replaying", entry.id))  # the lease is gone


def test_two_processes_replaying_the_same_entries_publish_each_once(redis_client) -> None:
    entries = [add_entry(str(2000 + n)).id for n in range(30)]
    barrier, results = SPAWN.Barrier(2), SPAWN.Queue()
    processes = [
        SPAWN.Process(target=interleave.many_replays, args=(entries, barrier, results, False))
        for _ in range(2)
    ]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=PROCESS_SECONDS) for _ in processes]
    join(*processes)

    published = [o for run in outcomes for o in run if "task_id" in o]
    refused = [o for run in outcomes for o in run if "refused" in o]
    assert sorted(o["entry"] for o in published) == sorted(entries)
    assert len(refused) == len(entries)
    assert all(
        o["refused"].endswith(
            ("is being replayed right now; try again", "use force to replay it again")
        )
        for o in refused
    )
    messages = queued(redis_client, "orders")
    assert sorted(m["headers"]["dlq_replay_of"] for m in messages) == sorted(entries)
    for entry_id in entries:
        stored = get_dlq().get(entry_id)
        assert stored.status == "replayed"
        assert len(stored.replays) == 1


def test_a_replay_whose_process_died_holds_the_entry_only_until_its_lease_runs_out(
    redis_client,
) -> None:
    entry = add_entry("1002")
    inside, go, results = SPAWN.Event(), SPAWN.Event(), SPAWN.Queue()
    dying = SPAWN.Process(target=interleave.held_replay, args=(entry.id, inside, go, results))
    dying.start()
    assert inside.wait(PROCESS_SECONDS), "the replay never reached its publish"
    dying.kill()
    dying.join(PROCESS_SECONDS)
    lease = get_dlq()._key("replaying", entry.id)

    with pytest.raises(EntryStateError, match="is being replayed right now"):
        get_dlq().replay(entry.id, publish, by="ops")
    assert 0 < redis_client.ttl(lease) <= REPLAY_LEASE_SECONDS
    assert get_dlq().get(entry.id).status == "open"
    assert queued(redis_client, "orders") == []

    redis_client.pexpire(lease, 1)  # the lease runs out (sooner than in production)
    wait_for(lambda: not redis_client.exists(lease))
    task_id = get_dlq().replay(entry.id, publish, by="ops")

    assert [m["headers"]["dlq_replay_of"] for m in queued(redis_client, "orders")] == [entry.id]
    assert [r["task_id"] for r in get_dlq().get(entry.id).replays] == [task_id]


def test_a_replay_that_could_not_publish_lets_the_next_one_go(redis_client) -> None:
    entry = add_entry("1003")

    def broker_down(*args, **kwargs) -> str:
        raise ConnectionError("the broker is down")

    with pytest.raises(ConnectionError):
        get_dlq().replay(entry.id, broker_down, by="ops")
    assert get_dlq().get(entry.id).status == "open"
    assert get_dlq().open_entry_of("orders", "1003") == entry.id  # still the record's entry

    task_id = get_dlq().replay(entry.id, publish, by="ops")

    assert [m["headers"]["dlq_replay_of"] for m in queued(redis_client, "orders")] == [entry.id]
    assert [r["task_id"] for r in get_dlq().get(entry.id).replays] == [task_id]
