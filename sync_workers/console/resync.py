"""A record's "Resync" button: the same work ``celery -A sync_workers resync FLOW --id`` does.

A record of a flow's main chain is resynced through the flow's poll with its id (``ids``),
which looks the record up on both sides first (an order's poll looks it up in Acumatica in a
batch and hands the chain its answer). A payment's poll takes its order's id, which the
ledger (or the payment's open dead letter) keeps. The records of the other chains (a sales
order's status, an Acumatica customer's write-back) are keyed by the ERP and only read before
they write: their chain is started directly (``runner.start``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sync_workers.console.records import chain_of, record_id_of
from sync_workers.dlq import DeadLetterQueue, EntryNotFound


class ResyncRefused(Exception):
    pass


@dataclass(frozen=True)
class Resync:
    task: str
    task_id: str
    ids: list[str]


def _payment_order(queue: DeadLetterQueue, record_id: str, data: dict[str, Any]) -> str | None:
    if data.get("order_id"):
        return str(data["order_id"])
    entry_id = queue.open_entry_of("payments", record_id)
    if entry_id is None:
        return None
    try:
        order_id = queue.get(entry_id).kwargs.get("order_id")
    except EntryNotFound:
        return None
    return None if order_id is None else str(order_id)


def resync(
    flow: str, direction: str, source_id: str, data: dict[str, Any], queue: DeadLetterQueue
) -> Resync:
    """Publish the record's resync; raises :class:`ResyncRefused` saying why it cannot."""
    from sync_workers.celery import publish
    from sync_workers.flows.runner import definition, start

    chain = chain_of(flow, direction, source_id)
    if chain is None:
        raise ResyncRefused(
            f"no chain of the {flow} flow runs this record (it is kept for another flow's "
            "records: resync those)"
        )
    record_id = record_id_of(chain, source_id)
    if chain.direction != definition(flow).direction:
        task_id = start(flow, record_id, chain.name)
        return Resync(f"tasks.{flow}.{chain.name}", task_id, [record_id])
    ids = [record_id]
    if flow == "payments":
        order_id = _payment_order(queue, record_id, data)
        if order_id is None:
            raise ResyncRefused(
                "the ledger does not know this payment's order: resync the order instead"
            )
        ids = [order_id]
    task = f"tasks.{flow}.poll"
    task_id = publish(task, [], {"ids": ids}, queue=None, chain=[], trace_id=None, headers={})
    return Resync(task, task_id, ids)
