"""Chains of one step that fail the way connectors fail, on the engine's app."""

from __future__ import annotations

from sync_workers.celery import app
from sync_workers.connectors.errors import NotFound
from sync_workers.errors import PermanentError, TransientError
from sync_workers.flows.runner import ChainTask, run_chain
from sync_workers.flows.shape import Chain, State, Step

DIRECTION = "xcart_to_acumatica"


def gone(state: State) -> State:
    raise NotFound(f"sales order of {state['record_id']} is gone from Acumatica")


def busy(state: State) -> State:
    raise TransientError("Acumatica is busy", details={"status": 503})


def refuses_customer(state: State) -> State:
    customer = state["customer"]
    raise PermanentError(f"customer {customer['email']} of {customer['street']} has no valid state")


def _body(self: ChainTask, record_id: str, **hints: object) -> dict:
    return run_chain(self, record_id, dict(hints))


not_found = app.task(
    name="tests.orders.not_found",
    base=ChainTask,
    bind=True,
    flow="orders",
    chain_def=Chain("not_found", DIRECTION, (Step("fetch", lambda s: s), Step("push", gone))),
)(_body)
always_busy = app.task(
    name="tests.orders.always_busy",
    base=ChainTask,
    bind=True,
    flow="orders",
    chain_def=Chain("always_busy", DIRECTION, (Step("push", busy),)),
)(_body)
refuses = app.task(
    name="tests.orders.refuses_customer",
    base=ChainTask,
    bind=True,
    flow="orders",
    chain_def=Chain("refuses", DIRECTION, (Step("validate", refuses_customer),)),
)(_body)
