"""Orders: X-Cart order -> Acumatica sales order, one per X-Cart order whatever happens.

Steps (plain calls of two thin tasks, ``tasks.orders.fetch`` for the first three and
``tasks.orders.push`` for the last two): ``fetch`` -> ``validate`` -> ``transform`` -> ``push`` ->
``write_back``. Exactly once in effect rests on three things:

* the ledger row per order (unique per source id and per target key);
* a Redis lock per order around the push;
* a remote look-up by ``CustomerOrder`` before any create the ledger cannot prove safe. The
  ledger proves it when no earlier attempt ever sent the PUT: ``put_sent`` is committed before
  the PUT goes out, so a retry after a lost answer (or a replay) always looks first.

A resync (``verify``) must look even when the ledger says new; its poll looks the orders up in
batches (:func:`look_up_batch`, one call per ``LOOK_UP_BATCH`` orders) and hands each chain its
answer. That answer proves absence only while the ledger row shows no PUT was ever sent, which
the push checks under the lock (else it looks again, alone).

So a new order with a known customer costs one Acumatica call here (the PUT) and one in the
payment flow, on the cursor poll and (plus one look-up per batch) on a resync.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sync_workers import clients
from sync_workers.connectors.acumatica.filters import F, one_of
from sync_workers.connectors.errors import NotFound
from sync_workers.connectors.http import query_string
from sync_workers.cursor import PollCursor
from sync_workers.dates import parse_optional
from sync_workers.errors import PermanentError
from sync_workers.flows import customers
from sync_workers.flows.base import Action, Drift, PlannedChange, template_cursor
from sync_workers.hashing import content_hash
from sync_workers.ledger import (
    Status,
    SyncRecord,
    claim_for_create,
    claim_record,
    claim_records,
    find_by_source,
    find_by_target,
    link_claimed,
    peek_by_source,
    restart_stalled,
    session_scope,
)
from sync_workers.locks import record_lock, record_locks
from sync_workers.mapping import orders as order_map
from sync_workers.mapping import payments as payment_map
from sync_workers.mapping.templates import load_template
from sync_workers.redis_client import (
    Reader,
    get_redis,
    prefixed,
    queue_backlog,
    read_together,
)
from sync_workers.settings import get_settings
from sync_workers.tracing import current_trace_id
from sync_workers.validation import history, known_skus, risk
from sync_workers.validation import orders as order_checks

log = logging.getLogger(__name__)

FLOW = "orders"
DIRECTION = "xcart_to_acumatica"
PAYMENTS = "payments"  # the payments flow, whose locks an order's task takes with its own
LOCK_WAIT = 20.0
ORDER_SELECT = ("OrderType", "OrderNbr", "Status", "CustomerOrder", "OrderTotal", "TaxTotal")
OPEN_STATUSES = ("Open", "On Hold", "Credit Hold", "Pending Approval", "Back Order")
EDITABLE_STATUSES = ("Open", "On Hold")
VOLATILE = frozenset({"update_date", "tracking_numbers"})
#: Orders per batched look-up, and the longest URL-encoded ``$filter`` one may send (IIS, in
#: front of Acumatica, refuses query strings over 2,048 bytes by default).
LOOK_UP_BATCH = 40
LOOK_UP_MAX_FILTER = 1800


def template() -> dict[str, Any]:
    return load_template(FLOW)


def order_hash(order: Mapping[str, Any]) -> str:
    return content_hash(order, VOLATILE)


def target_key(sales_order: Mapping[str, Any]) -> str:
    return f"{sales_order['OrderType']}/{sales_order['OrderNbr']}"


# Steps ---------------------------------------------------------------------------------------


def fetch(
    order_id: int | str,
    order: Mapping[str, Any] | None = None,
    verify: bool = False,
    remote: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The order, its payment transactions and (for a new buyer) the profile, from X-Cart.

    ``order`` is the order as a poll or webhook just read it (saves one read). ``verify``
    (resync and repair) makes the push look the order up in Acumatica even when the ledger
    says it is new: a resync is how a lost or restored ledger is caught up. ``remote``: the
    poll's batched look-up of this order (``{"found": <sales order or None>}``), which the push
    uses instead of its own look-up when the ledger allows it.
    """
    xcart = clients.xcart()
    if order is None or str(order.get("id")) != str(order_id):
        order = xcart.get_order(int(order_id))
    transactions = xcart.payment_transactions(int(order_id))
    profile = linked = None
    if order.get("customer_id"):
        linked = customers.linked_customer(f"profile:{int(order['customer_id'])}")
        if not linked:
            profile = xcart.get_profile(int(order["customer_id"]))
    state: dict[str, Any] = {
        "record_id": str(order_id),
        "order": order,
        "transactions": transactions,
        "profile": profile,
        "hash": order_hash(order),
        "verify": verify,
    }
    if linked:
        state["customer_link"] = linked
    if verify and remote is not None:
        state["remote"] = {"found": remote.get("found")}
    with session_scope() as session:
        record = peek_by_source(session, FLOW, DIRECTION, str(order_id))
        if record is not None and record.target_key:
            state["target_key"] = record.target_key
            if record.content_hash == state["hash"]:
                state["skip"] = "unchanged"
    return state


def validate(state: dict[str, Any]) -> dict[str, Any]:
    """Every check before the first write; raises ``PermanentError`` naming the bad fields."""
    if state.get("skip") or state.get("target_key"):
        return state
    order = state["order"]
    tmpl = template()
    if order_map.payment_action(order, tmpl) == "skip":
        state["skip"] = "payment status " + str((order.get("payment_status") or {}).get("code"))
        return state
    rules = (tmpl.get("risk") or {}).get("rules") or {}
    window = float(rules.get("velocity_window_minutes") or 60)
    sku_known, past = read_together(  # one round trip for both
        _skus_reader(order, tmpl), history.recent_reader(order, window)
    )
    transactions = state.get("transactions") or []
    order_checks.raise_problems(order, _problems(order, transactions, sku_known))
    assessment = risk.assess(order, transactions, past, rules)
    state["risk"] = {"score": assessment.score, "reasons": list(assessment.reasons)}
    state["hold"] = assessment.holds((tmpl.get("risk") or {}).get("hold_threshold", 10**9))
    return state


def _skus_reader(order: Mapping[str, Any], tmpl: Mapping[str, Any]) -> Reader:
    skus = (str(item.get("sku") or "") for item in order.get("items") or [])
    return known_skus.checker_reader(order_map.inventory_id(s, tmpl) for s in skus if s)


def _problems(
    order: Mapping[str, Any],
    transactions: list[Mapping[str, Any]],
    sku_known: Callable[[str], bool] | None = None,
) -> dict[str, str]:
    tmpl = template()
    if sku_known is None:
        sku_known = read_together(_skus_reader(order, tmpl))[0]
    return order_checks.order_and_payment_problems(
        order, transactions, tmpl, load_template("payments"), sku_known=sku_known
    )


def transform(state: dict[str, Any]) -> dict[str, Any]:
    """Resolve the customer (matched or created, once) and build the sales order."""
    if state.get("skip") or state.get("target_key"):
        return state
    order = state["order"]
    customer_id = customers.ensure_for_order(
        order, state.get("profile"), linked=state.get("customer_link")
    )
    reasons = state["risk"]["reasons"] if state.get("hold") else []
    state["customer_id"] = customer_id
    state["sales_order"] = order_map.to_sales_order(
        order, template(), customer_id=customer_id, hold_reasons=reasons
    )
    return state


def find_remote(order_type: str, customer_order: str) -> dict[str, Any] | None:
    """The sales order already holding this ``CustomerOrder``, if any."""
    rows = clients.acumatica().get_list(
        "SalesOrder",
        filter=(F("OrderType") == order_type) & (F("CustomerOrder") == customer_order),
        select=list(ORDER_SELECT),
        top=1,
    )
    return rows[0] if rows else None


def look_up_batch(orders: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Look X-Cart orders up in Acumatica by ``CustomerOrder``, ``LOOK_UP_BATCH`` per call.

    Returns ``{order id: {"found": <sales order or None>}}`` for every order given but those
    the ledger already links (their chains never create): what a resync hands each chain
    instead of one look-up per order.
    """
    tmpl = template()
    order_type = str(order_map.store_settings(tmpl)["order_type"])
    numbers: dict[str, str] = {}  # order id -> CustomerOrder
    for order in orders:
        numbers[str(order["id"])] = order_map.customer_order(order, tmpl)
    linked = _linked(list(numbers))
    numbers = {order_id: n for order_id, n in numbers.items() if order_id not in linked}
    found: dict[str, dict[str, Any]] = {}
    for batch in _look_up_batches(order_type, list(dict.fromkeys(numbers.values()))):
        rows = clients.acumatica().get_list(
            "SalesOrder", filter=_look_up_filter(order_type, batch), select=list(ORDER_SELECT)
        )
        for row in rows:
            found.setdefault(_comparable(row.get("CustomerOrder")), row)
    return {order_id: {"found": found.get(_comparable(n))} for order_id, n in numbers.items()}


def _linked(order_ids: list[str]) -> set[str]:
    """The orders among ``order_ids`` the ledger links to a sales order.

    The link is tested here, not in SQL: with ``target_key IS NOT NULL`` in the query, SQLite
    ranges over every linked order by the target-key index (a resync batch got slower with every
    order synced before it, 96 of a worker's 2,086 samples at 85,000 orders)."""
    with session_scope() as session:
        rows = session.query(SyncRecord.source_id, SyncRecord.target_key).filter(
            SyncRecord.flow == FLOW,
            SyncRecord.direction == DIRECTION,
            SyncRecord.source_id.in_(order_ids),
        )
        return {source_id for source_id, target_key in rows if target_key}


def _comparable(customer_order: Any) -> str:
    """Acumatica compares strings ignoring case and trailing spaces; so does the batch match."""
    return str(customer_order or "").rstrip().casefold()


def _look_up_filter(order_type: str, customer_orders: list[str]) -> Any:
    return (F("OrderType") == order_type) & one_of("CustomerOrder", list(customer_orders))


def _look_up_batches(order_type: str, customer_orders: list[str]) -> Iterator[list[str]]:
    """Batches of at most ``LOOK_UP_BATCH`` values whose encoded filter fits in a URL."""
    batch: list[str] = []
    for number in customer_orders:
        candidate = [*batch, number]
        encoded = query_string({"$filter": _look_up_filter(order_type, candidate).render()})
        if batch and (len(candidate) > LOOK_UP_BATCH or len(encoded) > LOOK_UP_MAX_FILTER):
            yield batch
            candidate = [number]
        batch = candidate
    if batch:
        yield batch


@contextmanager
def locked(state: Mapping[str, Any]) -> Iterator[None]:
    """Hold the order's lock and its transactions' for the push, the write-back and the payments,
    taken in one Redis round trip (the steps' own locks are then re-entrant: no more trips). An
    order with nothing to push takes none."""
    if state.get("skip"):
        yield
        return
    records = [(FLOW, str(state["record_id"]))]
    records += [(PAYMENTS, str(txn["id"])) for txn in state.get("transactions") or []]
    with record_locks(records, wait=LOCK_WAIT):
        yield


def push(state: dict[str, Any]) -> dict[str, Any]:
    """Create the sales order once (or cancel it, for a cancelled X-Cart order)."""
    if state.get("skip"):
        return state
    if state.get("target_key"):
        return _push_change(state)
    order_id = state["record_id"]
    sales_order = state["sales_order"]
    with record_lock(FLOW, order_id, wait=LOCK_WAIT):
        with session_scope() as session:
            claim = claim_for_create(
                session, FLOW, DIRECTION, order_id, trace_id=current_trace_id()
            )
        if claim.target_key:
            state["target_key"] = claim.target_key
            state["skip"] = "already synced"
            return state
        found = None
        if claim.put_sent or (state.get("verify") and "remote" not in state):
            found = find_remote(sales_order["OrderType"], sales_order["CustomerOrder"])
        elif state.get("verify"):  # no PUT was ever sent: the poll's look-up still holds
            found = state["remote"]["found"]
        if found is None:
            result = clients.acumatica().put("SalesOrder", sales_order, select=list(ORDER_SELECT))
            state["created"] = True
        else:
            result = found
            state["created"] = False
        key = target_key(result)
        with session_scope() as session:
            link_claimed(
                session,
                claim,
                target_key=key,
                content_hash=state["hash"],
                source_updated_at=parse_optional(state["order"].get("update_date")),
                data={
                    **_link_data(state),
                    "status": result.get("Status"),
                    "order_total": result.get("OrderTotal"),
                    "tax_total": result.get("TaxTotal"),
                    "risk": state.get("risk"),
                },
                followup_due=True,  # its payments: see ``payments.unsynced_transactions``
            )
    state["target_key"] = key
    state["acumatica"] = {k: result.get(k) for k in ORDER_SELECT}
    return state


def _link_data(state: Mapping[str, Any]) -> dict[str, Any]:
    """What the ledger keeps of an order for its payments (see ``payments.order_link``)."""
    return {
        "order_number": state["order"].get("order_number"),
        "customer_id": state.get("customer_id"),
    }


def ledger_link(state: Mapping[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """``(sales order key, ledger data)`` when this run's push linked the order (its payments
    then need not read the link back); ``None`` otherwise."""
    if "created" not in state or not state.get("target_key"):
        return None
    return str(state["target_key"]), _link_data(state)


def _push_change(state: dict[str, Any]) -> dict[str, Any]:
    """An order already synced changed in X-Cart: cancel, refuse a refund, or apply the edit."""
    order = state["order"]
    action = order_map.payment_action(order, template())
    order_type, order_nbr = state["target_key"].split("/", 1)
    client = clients.acumatica()
    with record_lock(FLOW, state["record_id"], wait=LOCK_WAIT):
        if action == "cancel":
            current = client.get_by_keys("SalesOrder", order_type, order_nbr, select=["Status"])
            status = (current or {}).get("Status")
            if status in OPEN_STATUSES:
                client.invoke_action(
                    "SalesOrder",
                    "CancelSalesOrder",
                    {"OrderType": order_type, "OrderNbr": order_nbr},
                )
                status = "Canceled"
            elif status != "Canceled":
                raise PermanentError(
                    f"X-Cart order {order.get('order_number')} was cancelled but sales order "
                    f"{state['target_key']} is {status}: cancel or return it in Acumatica",
                    field_errors={"payment_status.code": f"cancelled after {status}"},
                )
            state["change"] = "cancelled"
        elif action == "refund":
            raise PermanentError(
                f"X-Cart order {order.get('order_number')} was refunded: refunds are not "
                f"automated yet; record a customer refund for {state['target_key']} in Acumatica",
                field_errors={"payment_status.code": "refund not automated"},
            )
        else:
            state["change"] = _apply_edit(state, order_type, order_nbr)
        with session_scope() as session:
            record = claim_record(session, FLOW, DIRECTION, state["record_id"])
            record.content_hash = state["hash"]
            record.followup_due = True
            record.data = {**(record.data or {}), "last_change": state["change"]}
            if state["change"] == "cancelled":
                record.data = {**record.data, "status": "Canceled"}
    return state


def _apply_edit(state: dict[str, Any], order_type: str, order_nbr: str) -> str:
    """Bring an editable sales order in line with the edited X-Cart order (lines, freight,
    tax, addresses); an order Acumatica already works on is left as it is."""
    order = state["order"]
    order_checks.raise_problems(order, _problems(order, state.get("transactions") or []))
    client = clients.acumatica()
    current = client.get_by_keys(
        "SalesOrder", order_type, order_nbr, expand=["Details", "TaxDetails"]
    )
    status = (current or {}).get("Status")
    if current is None or status not in EDITABLE_STATUSES:
        log.warning("order %s edited in X-Cart; sales order is %s", order.get("id"), status)
        return f"edit not applied: sales order is {status}"
    wanted = order_map.to_sales_order(order, template(), customer_id=current["CustomerID"])
    client.put("SalesOrder", order_map.edit_body(current, wanted), select=list(ORDER_SELECT))
    return "edited"


def write_back(state: dict[str, Any]) -> dict[str, Any]:
    """Flag a tax difference, remember the order for risk rules; return the payments to make."""
    if state.get("skip") or "sales_order" not in state:
        return state
    order = state["order"]
    tmpl = template()
    tax = tmpl.get("tax") or {}
    acumatica = state.get("acumatica") or {}
    if tax.get("mode") == "compute" and acumatica.get("TaxTotal") is not None:
        difference = order_map.tax_difference(order, acumatica["TaxTotal"])
        if abs(difference) > order_map.money(tax.get("tolerance") or 0):
            log.warning(
                "order %s: Acumatica tax differs from X-Cart's by %s",
                order.get("order_number"),
                difference,
            )
            with session_scope() as session:
                record = claim_record(session, FLOW, DIRECTION, state["record_id"])
                record.data = {**(record.data or {}), "tax_difference": str(difference)}
    history.remember(order)
    return state


def payment_transactions(state: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The transactions of a synced order that become Acumatica payments."""
    if not state.get("target_key") or state.get("skip") == "payment status D":
        return []
    code = (state["order"].get("payment_status") or {}).get("code")
    pay_tmpl = load_template("payments")
    return [
        txn
        for txn in state.get("transactions") or []
        if payment_map.action(txn, code, pay_tmpl) in ("record", "hold")
    ]


def record_statuses(notification: Mapping[str, Any]) -> list[str]:
    """Follow sales-order statuses from a ``SalesOrders`` push notification.

    The ledger keeps the latest status; a row older than the one recorded (by its
    ``LastModifiedDateTime``) is ignored, so duplicates and reordering are harmless. Statuses
    mapped in ``order_status_to_shipping`` move the X-Cart shipping status (e.g. Shipping ->
    Processing), read first and written only from ``order_status_writable_from``. Returns the
    X-Cart order ids whose ledger status changed.
    """
    tmpl = template()
    table = tmpl.get("order_status_to_shipping") or {}
    writable = tmpl.get("order_status_writable_from") or []
    updated: list[str] = []
    for row in notification.get("Inserted") or []:
        key = f"{row.get('OrderType')}/{row.get('OrderNbr')}"
        moment = str(row.get("LastModifiedDateTime") or "")
        with session_scope() as session:
            record = find_by_target(session, FLOW, DIRECTION, key)
            if record is None:
                continue
            data = dict(record.data or {})
            if moment and moment < str(data.get("status_at") or ""):
                continue
            record.data = {**data, "status": row.get("Status"), "status_at": moment}
            order_id = record.source_id
        updated.append(order_id)
        code = table.get(row.get("Status"))
        if code:
            _set_shipping_status(order_id, code, writable)
    return updated


def _set_shipping_status(order_id: str, code: str, writable: list[str]) -> None:
    xcart = clients.xcart()
    with record_lock(FLOW, order_id, wait=LOCK_WAIT):
        current = (xcart.get_order(int(order_id)).get("shipping_status") or {}).get("code")
        if current != code and current in writable:
            xcart.set_shipping_status(int(order_id), code)


# Polling and planning -----------------------------------------------------------------------


def resync_can_continue() -> bool:
    """Whether a resync can stop and go on later from an update time: X-Cart lists orders in
    ascending ``lastRenewDate`` order only where that filter exists."""
    return bool(clients.xcart().supports_last_renew_filter())


#: ``poll.settle_seconds`` when the orders template leaves it out (X-Cart's dates have whole
#: seconds; the overlap catches what commits later).
SETTLE_SECONDS = 2.0


def poll_settings() -> tuple[timedelta, timedelta]:
    poll = template().get("poll") or {}
    return (
        timedelta(seconds=float(poll.get("overlap_seconds", 300))),
        timedelta(seconds=float(poll.get("settle_seconds", SETTLE_SECONDS))),
    )


def changed_orders(
    since: Any = None, all: bool = False, settling: list[datetime] | None = None
) -> Iterator[dict[str, Any]]:
    """Orders changed since the cursor (or ``since``; everything with ``all``).

    With the cursor, the cursor moves once the caller has taken the last order (consume it
    lazily, handing each order out in the loop); the poll itself uses :func:`cursor_orders`.
    ``settling`` (cursor only) receives the update times of the orders left for a later poll
    because they are younger than ``settle_seconds``.
    """
    if all or since is not None:
        start = None if all else parse_optional(since)
        yield from clients.xcart().orders_changed_since(start)
        return
    found, cursor = cursor_orders(settling)
    yield from found
    cursor.commit()


def update_moment(order: Mapping[str, Any]) -> datetime:
    """An order's update time as the cursor reads it (every order :func:`cursor_orders` returns
    has one)."""
    moment = parse_optional(order.get("update_date"))
    if moment is None:
        raise ValueError(f"order {order.get('id')} has no update_date")
    return moment


def cursor_orders(
    settling: list[datetime] | None = None,
) -> tuple[list[dict[str, Any]], PollCursor]:
    """The orders of the cursor's window and the cursor, not yet moved: commit it only once
    every order is handed out (has its ledger row and its message), or a poll that dies in
    between would leave orders that no later poll reads and no stall check knows."""
    cursor = template_cursor(FLOW, DIRECTION, template().get("poll"), settle=SETTLE_SECONDS)
    window = cursor.window()
    until = None if settling is not None else window.end
    found: list[dict[str, Any]] = []
    for order in clients.xcart().orders_changed_since(window.start, until=until):
        moment = parse_optional(order.get("update_date"))
        if moment is None:
            continue
        if moment > window.end:
            if settling is not None:
                settling.append(moment)
        elif cursor.accept(order["id"], moment, moment):
            found.append(order)
    return found, cursor


#: Seconds after an order leaves the settle window that its follow-up poll runs.
FOLLOW_UP_MARGIN = 0.25
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


def _follow_up_key() -> str:
    return prefixed(FLOW, "poll", "follow_up")


def claim_follow_up(settling: list[datetime], after: str | None = None) -> tuple[str, float] | None:
    """Book the one follow-up poll for orders a poll left to settle: ``(token, countdown)``.

    It runs when the newest of them is ``settle_seconds`` old (plus a margin), so they go out
    then instead of a whole poll interval later. ``None`` when nothing was left or a follow-up
    is already booked. ``after`` (a follow-up booking the next): the token of the running one;
    the next runs at least ``settle_seconds`` after it, so follow-ups cost at most one extra
    poll per settle period however fast orders arrive, and stop when none is left.
    """
    if not settling:
        return None
    settle = poll_settings()[1].total_seconds()
    now = time.time()
    due = min(max(max(settling).timestamp() + settle, now), now + settle) + FOLLOW_UP_MARGIN
    if after is not None:
        due = max(due, float(after) + settle)
    token = f"{due:.6f}"
    expiry = due - now + settle + 30  # a follow-up lost on its way frees the booking
    if not get_redis().set(_follow_up_key(), token, nx=True, px=int(expiry * 1000)):
        return None
    return token, due - now


def release_follow_up(token: str) -> None:
    """The follow-up poll ``token`` is running: free the booking so it may book the next."""
    get_redis().eval(_RELEASE, 1, _follow_up_key(), token)


def read_orders(order_ids: Iterable[Any]) -> list[tuple[str, dict[str, Any] | None]]:
    """The listed orders, read from X-Cart (``None`` for an order the store does not have: its
    chain then fails on the read with the reason, as it always did)."""
    xcart = clients.xcart()
    found: list[tuple[str, dict[str, Any] | None]] = []
    for order_id in order_ids:
        try:
            found.append((str(order_id), xcart.get_order(int(order_id))))
        except NotFound:
            found.append((str(order_id), None))
    return found


def note_handed_out(order_ids: Iterable[str]) -> None:
    """Claim a ledger row for each order a poll starts, before its message is published: an
    order whose message is then lost (a broker crash) shows up in :func:`stalled`."""
    with session_scope() as session:
        claim_records(session, FLOW, DIRECTION, [str(order_id) for order_id in order_ids])


def stalled(limit: int = 100) -> list[str]:
    """Orders with no progress for ``STALL_SECONDS``: their chain was lost; restart them.

    Only while the orders queue is empty: behind a backlog, an order whose message simply waits
    its turn looks the same as one whose message was lost, and restarting those would flood the
    queue with copies faster than the workers drain it. A lost message is still found, once the
    backlog is gone.
    """
    if queue_backlog(FLOW):
        return []
    older_than = datetime.now(UTC) - timedelta(seconds=get_settings().stall_seconds)
    with session_scope() as session:
        return restart_stalled(session, FLOW, DIRECTION, older_than=older_than, limit=limit)


def plan(since: Any = None, ids: list[Any] | None = None, all: bool = False) -> list:
    """What a resync would do, without writing anywhere (X-Cart and ledger reads only)."""
    xcart = clients.xcart()
    orders = (
        [xcart.get_order(int(i)) for i in ids]
        if ids
        else list(changed_orders(since=since, all=all or since is None))
    )
    planned: list[PlannedChange] = []
    tmpl = template()
    for order in orders:
        source = str(order["id"])
        with session_scope() as session:
            record = find_by_source(session, FLOW, DIRECTION, source)
            key = record.target_key if record else None
            known_hash = record.content_hash if record else None
        if key is None:
            try:
                action = order_map.payment_action(order, tmpl)
            except PermanentError as exc:
                planned.append(PlannedChange(FLOW, DIRECTION, source, "error", reason=str(exc)))
                continue
            planned.append(
                PlannedChange(
                    FLOW,
                    DIRECTION,
                    source,
                    "skip" if action == "skip" else "create",
                    reason=f"payment status action {action}",
                )
            )
        elif known_hash == order_hash(order):
            planned.append(PlannedChange(FLOW, DIRECTION, source, "skip", key, "unchanged"))
        else:
            kind: Action = (
                "cancel" if order_map.payment_action(order, tmpl) == "cancel" else "update"
            )
            planned.append(PlannedChange(FLOW, DIRECTION, source, kind, key, "changed in X-Cart"))
    return planned


def drift(since: Any = None) -> list[Drift]:
    """Orders never synced, and synced orders whose sales order is gone from Acumatica."""
    found: list[Drift] = []
    client = clients.acumatica()
    for order in changed_orders(since=since, all=since is None):
        source = str(order["id"])
        with session_scope() as session:
            record = find_by_source(session, FLOW, DIRECTION, source)
            key = record.target_key if record else None
            status = record.status if record else None
        if key is None:
            if status != Status.DEAD_LETTERED.value:
                found.append(Drift(FLOW, DIRECTION, source, None, "missing_in_target"))
            continue
        order_type, order_nbr = key.split("/", 1)
        if (
            client.get_by_keys(
                "SalesOrder", order_type, order_nbr, select=["OrderNbr"], missing_ok=True
            )
            is None
        ):
            found.append(Drift(FLOW, DIRECTION, source, key, "target_gone"))
    return found
