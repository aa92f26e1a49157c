"""Grouping by pattern reads each entry once, again only when it fails again."""

from __future__ import annotations

import time

from sync_workers.console.grouping import Grouping, pattern_of
from sync_workers.dlq import DeadLetter
from sync_workers.task import get_dlq
from tests.console.conftest import add_entry


def test_a_pattern_takes_ids_numbers_and_personal_values_out() -> None:
    assert pattern_of("order 1042 is invalid: total 57.19 is not 57.20") == (
        "order # is invalid: total # is not #"
    )
    assert pattern_of("task 3f2a9c4d5e6f7a8b9c0d1e2f3a4b5c6d lost for jane@example.com") == (
        "task <id> lost for [Filtered]"
    )
    assert pattern_of("customer Ana Núñez has no state", ["Ana Núñez"]) == (
        "customer [Filtered] has no state"
    )


def test_only_entries_not_seen_before_are_read(redis_client, monkeypatch) -> None:
    for record in ("1", "2", "3"):
        add_entry(record)
    grouping = Grouping(get_dlq())
    assert grouping.snapshot().groups[0].count == 3
    read: list[list[str]] = []
    original = grouping.queue.get_many
    monkeypatch.setattr(
        grouping.queue, "get_many", lambda ids: read.append(list(ids)) or original(ids)
    )

    add_entry("4")
    snapshot = grouping.snapshot()

    assert read == [[snapshot.groups[0].members[0][0]]]  # the new one, alone
    assert snapshot.groups[0].count == 4


def test_a_budget_leaves_the_rest_for_the_next_request(redis_client) -> None:
    for record in range(5):
        add_entry(str(record))

    first = Grouping(get_dlq()).snapshot(budget=0.0)
    later = Grouping(get_dlq()).snapshot()

    assert first.pending == 5 and first.groups == []
    assert later.pending == 0 and later.groups[0].count == 5


def test_an_entry_that_fails_again_is_regrouped_and_a_resolved_one_leaves(redis_client) -> None:
    entry = add_entry("9")
    queue = get_dlq()
    grouping = Grouping(queue)
    assert grouping.snapshot().groups[0].pattern.startswith("order # is invalid")
    time.sleep(0.005)  # its next failure is a later one
    again = DeadLetter(
        flow="orders", record_id="9", task="tasks.orders.sync", step="push", task_id="another-task",
        args=[], kwargs={"record_id": "9"}, error_class="TransientError",
        error_message="order 9: Acumatica said 500",
    )  # fmt: skip
    assert not queue.add(again)  # folded into the record's open entry
    [group] = grouping.snapshot().groups
    assert group.error_class == "TransientError" and group.ids() == [entry.id]

    queue.resolve(entry.id, by="test")

    assert grouping.snapshot().groups == []


def test_while_the_queue_is_unchanged_the_last_snapshot_is_reused(
    redis_client, monkeypatch
) -> None:
    entry = add_entry("7")
    queue = get_dlq()
    first = Grouping(queue).snapshot()
    monkeypatch.setattr(
        queue, "open_index", lambda: (_ for _ in ()).throw(AssertionError("read the queue"))
    )

    assert Grouping(queue).snapshot() is first  # another request: nothing read but the token

    monkeypatch.undo()
    queue.resolve(entry.id, by="test")
    assert Grouping(queue).snapshot().groups == []
