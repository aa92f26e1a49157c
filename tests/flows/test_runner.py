"""The runner's dead letters mark the record's ledger row: a permanent failure always, a
transient one exhausted only while the record has no target yet."""

from __future__ import annotations

import pytest

from sync_workers.ledger import Status, claim_record, find_by_source, mark_synced, session_scope
from sync_workers.task import get_dlq
from tests.flows import runner_tasks
from tests.flows.order_to_cash.helpers import wait_for

DIRECTION = runner_tasks.DIRECTION


def linked(source_id: str) -> None:
    with session_scope() as session:
        record = claim_record(session, "orders", DIRECTION, source_id)
        mark_synced(session, record, target_key=f"SO/{source_id}")


def status_of(source_id: str) -> str | None:
    with session_scope() as session:
        record = find_by_source(session, "orders", DIRECTION, source_id)
        return record.status if record is not None else None


def dead_letter_of(record_id: str):
    entries = [e for e in get_dlq().iter_entries(status="open") if e.record_id == record_id]
    return entries[0] if entries else None


@pytest.mark.parametrize("linked_first", [True, False])
def test_a_not_found_dead_letter_marks_the_record_even_when_it_is_linked(
    clean_ledger, redis_client, celery_worker, linked_first
) -> None:
    record_id = f"nf-{int(linked_first)}"
    if linked_first:
        linked(record_id)

    runner_tasks.not_found.apply_async(kwargs={"record_id": record_id})

    entry = wait_for(lambda: dead_letter_of(record_id))
    assert (entry.error_class, entry.step) == ("NotFound", "push")
    wait_for(lambda: status_of(record_id) == Status.DEAD_LETTERED.value)


def test_an_exhausted_transient_failure_leaves_a_linked_record_linked(
    clean_ledger, redis_client, celery_worker
) -> None:
    linked("busy-1")

    runner_tasks.always_busy.apply_async(kwargs={"record_id": "busy-1"})

    entry = wait_for(lambda: dead_letter_of("busy-1"), timeout=60)
    assert entry.error_class == "TransientError"
    assert status_of("busy-1") == Status.SYNCED.value


def test_errors_kept_in_the_ledger_hold_no_customer_data(
    clean_ledger, redis_client, celery_worker
) -> None:
    from sync_workers.ledger import history

    email, street = "ann.o'hara@example.com", "12 Rue de l'Église"
    customer = {"email": email, "street": street, "firstname": "Ann"}
    runner_tasks.refuses.apply_async(kwargs={"record_id": "cust-9", "customer": customer})

    entry = wait_for(lambda: dead_letter_of("cust-9"))
    [run] = wait_for(lambda: history.runs_of("orders", DIRECTION, "cust-9"))
    with session_scope() as session:
        record = find_by_source(session, "orders", DIRECTION, "cust-9")
        last_error = record.last_error if record is not None else ""

    assert email in entry.error_message  # the dead letter keeps what is needed to act on it
    assert run["outcome"] == "failed" and "has no valid state" in run["error"]
    for text in (run["error"], last_error):
        assert email not in text and street not in text


def test_a_record_claimed_again_after_its_dead_letter_is_marked_again_when_it_fails_again(
    clean_ledger, redis_client, celery_worker
) -> None:
    """A poll restarting a stalled chain (or a duplicate delivery) claims the row again
    (pending); when the run fails the same way, its dead letter folds into the record's open
    entry, and the row must say dead-lettered again, or the poll restarts it for ever."""
    runner_tasks.not_found.apply_async(kwargs={"record_id": "again-1"})
    first = wait_for(lambda: dead_letter_of("again-1"))
    wait_for(lambda: status_of("again-1") == Status.DEAD_LETTERED.value)
    with session_scope() as session:  # what the poll's hand-out does to a stalled row
        record = claim_record(session, "orders", DIRECTION, "again-1")
        record.status = Status.PENDING.value

    runner_tasks.not_found.apply_async(kwargs={"record_id": "again-1"})

    wait_for(lambda: status_of("again-1") == Status.DEAD_LETTERED.value)
    entries = [e for e in get_dlq().iter_entries(status="open") if e.record_id == "again-1"]
    assert [e.id for e in entries] == [first.id]  # folded into the open entry, not a second
