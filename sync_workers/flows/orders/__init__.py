"""Orders (X-Cart -> Acumatica): each X-Cart order becomes one sales order, with its payments.

Chains (``tasks.orders.<chain>``):

* ``sync`` (record: the X-Cart order id): ``fetch`` -> ``validate`` -> ``customer`` ->
  ``transform`` -> ``push`` -> ``write_back`` -> ``payments``. From ``push`` on, the order's
  lock and its payments' are held (taken in one round trip). See :mod:`.steps`.
* ``status`` (record: the sales order ``OrderType/OrderNbr``): ``record_status`` ->
  ``write_shipping_status``, from ``SalesOrders`` push notifications.

Poll, plan and drift: :mod:`.changes` (field comparison: :mod:`.compare`).
"""

from sync_workers.flows.orders.changes import (
    LOOK_UP_BATCH,
    changed_orders,
    drift,
    forget_hashes,
    look_up_batch,
    on_webhook,
    plan,
    poll,
)
from sync_workers.flows.orders.payments import record_payments
from sync_workers.flows.orders.steps import (
    DIRECTION,
    NAME,
    customer,
    fetch,
    locked,
    order_hash,
    push,
    record_status,
    statuses_in_push,
    template,
    transform,
    validate,
    write_back,
    write_shipping_status,
)
from sync_workers.flows.shape import Chain, Flow, Step

FLOW = Flow(
    name=NAME,
    direction=DIRECTION,
    template=NAME,
    chains=(
        Chain(
            "sync",
            DIRECTION,
            (
                Step("fetch", fetch),
                Step("validate", validate),
                Step("customer", customer),
                Step("transform", transform),
                Step("push", push),
                Step("write_back", write_back),
                Step("payments", record_payments),
            ),
            tracked=True,
            hold=("push", locked),
        ),
        Chain(
            "status",
            "acumatica_to_xcart",
            (
                Step("record_status", record_status),
                Step("write_shipping_status", write_shipping_status),
            ),
        ),
    ),
    poll=poll,
    plan=plan,
    drift=drift,
    cursors=(DIRECTION,),
    on_push=statuses_in_push,
    on_webhook=on_webhook,
    before_repair=forget_hashes,
)

__all__ = [
    "DIRECTION",
    "FLOW",
    "LOOK_UP_BATCH",
    "NAME",
    "changed_orders",
    "drift",
    "look_up_batch",
    "order_hash",
    "plan",
    "poll",
    "template",
]
