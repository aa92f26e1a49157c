"""Payments (X-Cart -> Acumatica): transactions become payments applied to the sales order,
refunds become refunds applied to those payments; released payments mark the order paid.

Chains (``tasks.payments.<chain>``):

* ``sync`` (record: the X-Cart transaction id): ``prepare`` -> ``push``, usually run inline by
  its order's chain, for transactions that come after the sales order (a new order's payments
  are created with it, in its PUT). See :mod:`.steps`.
* ``refund`` (record: the refund's id; ledger source ``refund:<id>``): ``prepare`` -> ``push``:
  an Acumatica refund applied to the transaction's payment. See :mod:`.refunds`.
* ``status`` (record: the Acumatica payment ``<Type>/<ReferenceNbr>``): ``write_back``: a
  payment released in Acumatica (e.g. a check received) marks the X-Cart order paid.

Poll, push notifications, plan and drift: :mod:`.changes`.
"""

from sync_workers.flows.payments.changes import (
    changed_acumatica_payments,
    drift,
    payments_in_push,
    plan,
    poll,
    unsynced,
    unsynced_transactions,
)
from sync_workers.flows.payments.refunds import PREFIX as REFUND_PREFIX
from sync_workers.flows.payments.refunds import prepare_refund, push_refund, refunds_of_order
from sync_workers.flows.payments.steps import (
    DIRECTION,
    NAME,
    PAYMENT_SELECT,
    REVERSE,
    find_remote,
    order_link,
    prepare,
    push,
    template,
    write_back_status,
)
from sync_workers.flows.shape import Chain, Flow, Step

FLOW = Flow(
    name=NAME,
    direction=DIRECTION,
    template=NAME,
    chains=(
        Chain("sync", DIRECTION, (Step("prepare", prepare), Step("push", push)), tracked=True),
        Chain(
            "refund",
            DIRECTION,
            (Step("prepare", prepare_refund), Step("push", push_refund)),
            ledger_prefix=REFUND_PREFIX,
            tracked=True,
        ),
        Chain("status", REVERSE, (Step("write_back", write_back_status),)),
    ),
    poll=poll,
    plan=plan,
    drift=drift,
    cursors=(REVERSE,),
    on_push=payments_in_push,
)

__all__ = [
    "DIRECTION",
    "FLOW",
    "NAME",
    "PAYMENT_SELECT",
    "REFUND_PREFIX",
    "REVERSE",
    "changed_acumatica_payments",
    "drift",
    "find_remote",
    "order_link",
    "plan",
    "poll",
    "prepare",
    "push",
    "refunds_of_order",
    "template",
    "unsynced",
    "unsynced_transactions",
]
