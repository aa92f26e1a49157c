"""Look-ups of a list of orders read the ledger by (flow, direction, source id), and the idle
payments poll by the follow-up flag's index.

With the link (``target_key IS NOT NULL``) or the status in the query, SQLite ranged over every
linked or synced order by another index instead, so each resync batch, listed payments poll and
inventory poll got slower with every order synced before it. These tests run the real
functions against the settings' ledger (SQLite), capture their statements and ask SQLite for
the plan of each.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import event

from sync_workers.flows import inventory
from sync_workers.flows import payments as payments_flow
from sync_workers.flows.orders import changes as orders_flow
from sync_workers.ledger import (
    claim_record,
    get_engine,
    linked_sources,
    mark_synced,
    session_scope,
)

DIRECTION = "xcart_to_acumatica"
#: As many ids as a resync batch: SQLite weighs an ``IN`` list by its length.
MANY = [str(n) for n in range(1, orders_flow.LOOK_UP_BATCH + 1)]
BY_SOURCE = "USING INDEX sqlite_autoindex_sync_records_1 (flow=? AND direction=? AND source_id=?)"


@pytest.fixture
def orders_in_ledger(clean_ledger):
    """Order 1 linked and synced, order 2 claimed only."""
    with session_scope() as session:
        mark_synced(session, claim_record(session, "orders", DIRECTION, "1"), target_key="SO/1")
        claim_record(session, "orders", DIRECTION, "2")
    return clean_ledger


def plans_of(call: Callable[[], Any], marker: str = " IN (") -> tuple[Any, list[str]]:
    """What ``call`` returns, and SQLite's plan of each ledger statement it sent that holds
    ``marker`` (by default those with an ``IN``)."""
    ledger = get_engine()  # the engine the flows use now (earlier tests may have replaced it)
    seen: list[tuple[str, Any]] = []

    def capture(conn, cursor, statement, parameters, context, executemany) -> None:
        if "sync_records" in statement and marker in statement:
            seen.append((statement, parameters))

    event.listen(ledger, "before_cursor_execute", capture)
    try:
        result = call()
    finally:
        event.remove(ledger, "before_cursor_execute", capture)
    assert seen, f"no ledger statement with {marker!r} was sent"
    with ledger.connect() as conn:
        plans = [
            " | ".join(str(row[-1]) for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {s}", p))
            for s, p in seen
        ]
    return result, plans


def test_a_resync_batch_reads_its_orders_by_source_id(orders_in_ledger) -> None:
    def linked_orders() -> set[str]:
        with session_scope() as session:
            return linked_sources(session, "orders", "xcart_to_acumatica", MANY)

    linked, plans = plans_of(linked_orders)
    assert linked == {"1"}
    assert plans and all(BY_SOURCE in plan for plan in plans), plans


def test_a_listed_payments_poll_reads_its_orders_by_source_id(orders_in_ledger) -> None:
    def listed() -> list:
        return list(payments_flow.unsynced_transactions(MANY[1:], note_checked=False))

    found, plans = plans_of(listed)
    assert found == []  # none of them has a sales order: their payments wait
    assert plans and all(BY_SOURCE in plan for plan in plans), plans


def test_an_inventory_poll_reads_its_orders_by_source_id(orders_in_ledger) -> None:
    orders = [{"id": int(n), "order_number": f"X{n}"} for n in MANY]
    synced, plans = plans_of(lambda: inventory.synced_order_keys(orders))
    assert synced == {"1"}
    assert plans and all(BY_SOURCE in plan for plan in plans), plans


def test_an_idle_payments_poll_finds_the_orders_due_by_their_index(orders_in_ledger) -> None:
    """Not by reading every linked order: that grew with every order ever synced."""
    with session_scope() as session:
        for n in MANY[2:]:  # linked orders whose payments were all found synced
            mark_synced(
                session, claim_record(session, "orders", DIRECTION, n), target_key=f"SO/{n}"
            )

    found, plans = plans_of(lambda: list(payments_flow.unsynced_transactions()), "followup_due")
    assert found == []  # none is due
    assert plans == [
        "SEARCH sync_records USING INDEX ix_sync_records_flow_direction_followup_due "
        "(flow=? AND direction=? AND followup_due=?)"
    ], plans
