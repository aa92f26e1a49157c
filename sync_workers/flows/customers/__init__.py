"""Customers (both ways): X-Cart buyers and profiles <-> Acumatica customers.

Chains (``tasks.customers.<chain>``):

* ``profile`` (record: the X-Cart profile id; ledger source ``profile:<id>``): ``fetch`` ->
  ``match`` -> ``push`` -> ``write_back``: the profile's customer matched or created, the fields
  X-Cart owns written to it, those Acumatica owns written back. See :mod:`.steps`.
* ``customer`` (record: the Acumatica CustomerID; ledger ``acumatica_to_xcart`` row, source the
  CustomerID): ``fetch`` -> ``link`` -> ``write_back`` -> ``finish``: a customer with no linked
  profile linked to the store's profile with its e-mail, else given a new one
  (``create_store_profiles``); the fields Acumatica owns written to the profile and its billing
  address. Each hand-out makes the customer's row pending; ``finish`` removes it (a customer not
  brought keeps it, skipped, with the reason), and the poll restarts a pending row that stalls
  (its message lost with a broker or a killed worker).

The orders flow resolves each order's buyer with :func:`ensure_for_order` (:mod:`.matching`: no
duplicate customers). Poll, realtime triggers, plan and drift: :mod:`.poll`.
"""

from sync_workers.flows.customers.matching import (
    DIRECTION,
    NAME,
    REVERSE,
    ensure_for_order,
    linked_customer,
    template,
)
from sync_workers.flows.customers.poll import (
    changed_acumatica_customers,
    customers_in_push,
    drift,
    on_webhook,
    plan,
    poll,
    profile_scan_key,
)
from sync_workers.flows.customers.steps import (
    fetch_customer,
    fetch_profile,
    finish_customer,
    link_profile,
    match,
    profile_locked,
    push,
    write_back_customer,
    write_back_profile,
)
from sync_workers.flows.shape import Chain, Flow, Step

FLOW = Flow(
    name=NAME,
    direction=DIRECTION,
    template=NAME,
    chains=(
        Chain(
            "profile",
            DIRECTION,
            (
                Step("fetch", fetch_profile),
                Step("match", match),
                Step("push", push),
                Step("write_back", write_back_profile),
            ),
            ledger_prefix="profile:",
            hold=("match", profile_locked),
        ),
        Chain(
            "customer",
            REVERSE,
            (
                Step("fetch", fetch_customer),
                Step("link", link_profile),
                Step("write_back", write_back_customer),
                Step("finish", finish_customer),
            ),
            tracked=True,
            reopen=True,
            hold=("write_back", profile_locked),
        ),
    ),
    poll=poll,
    plan=plan,
    drift=drift,
    cursors=(REVERSE,),
    on_push=customers_in_push,
    on_webhook=on_webhook,
)

__all__ = [
    "DIRECTION",
    "FLOW",
    "NAME",
    "REVERSE",
    "changed_acumatica_customers",
    "ensure_for_order",
    "linked_customer",
    "profile_scan_key",
    "template",
]
