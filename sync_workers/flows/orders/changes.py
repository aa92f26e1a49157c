"""Which orders changed, and handing them out: the orders flow's poll, plan and drift.

The cursor poll reads X-Cart's orders changed since its cursor and hands each one out (its
ledger row first, then its task, with the order as read); it saves its progress every
``HAND_OUT_BATCH`` orders and moves the cursor only once every order of the window is handed
out. Orders younger than ``settle_seconds`` wait for one follow-up poll booked for when they are
old enough. A resync looks the orders up in Acumatica in batches first (``verify``), and goes on
in a new poll task every ``RESYNC_CHUNK`` orders. Every poll also restarts orders whose task
made no progress for ``STALL_SECONDS`` (a message lost in a broker crash).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sync_workers import clients
from sync_workers.connectors.acumatica.filters import F, one_of
from sync_workers.connectors.errors import NotFound
from sync_workers.connectors.http import query_string
from sync_workers.cursor import PollCursor
from sync_workers.dates import parse_optional
from sync_workers.errors import PermanentError
from sync_workers.flows.orders import compare
from sync_workers.flows.orders.payments import ORDER_SELECT
from sync_workers.flows.orders.steps import DIRECTION, NAME, order_hash, template
from sync_workers.flows.runner import schedule_poll, stalled
from sync_workers.flows.shape import (
    Action,
    Drift,
    HandOut,
    PlannedChange,
    PollRequest,
    Start,
    mismatch_details,
    template_cursor,
)
from sync_workers.ledger import (
    Status,
    SyncRecord,
    linked_sources,
    session_scope,
)
from sync_workers.locks import compare_and_delete
from sync_workers.mapping import orders as order_map
from sync_workers.redis_client import get_redis, prefixed

#: Orders per batched look-up, and the longest URL-encoded ``$filter`` one may send (IIS, in
#: front of Acumatica, refuses query strings over 2,048 bytes by default).
LOOK_UP_BATCH = 40
LOOK_UP_MAX_FILTER = 1800
#: Orders a cursor poll hands out before it saves its progress: a poll killed in the middle of
#: a large window leaves the next one only what it had not handed out yet (the orders of the
#: window are handed out in update order, so a checkpoint just before the next one's time holds).
HAND_OUT_BATCH = 200
#: Orders one resync task hands out before it passes the rest to a new task: a backfill of
#: 100,000 orders would otherwise hold them all in one process and outlive the time limit.
RESYNC_CHUNK = 2000


def order_cursor() -> PollCursor:
    """The orders poll's cursor, as the template's ``poll`` section sets it."""
    return template_cursor(NAME, DIRECTION, template().get("poll"), settle=SETTLE_SECONDS)


def poll(request: PollRequest, hand_out: HandOut) -> dict[str, Any]:
    """Hand out one chain per changed order (cursor), or per listed order, or since ``since`` /
    ``all`` (resyncs, which look the orders up in Acumatica first)."""
    if (request.since or request.all) and not request.ids:
        return _resync_chunk(request.since, hand_out)
    settling: list[datetime] = []
    if request.ids:
        found = read_orders(request.ids)
        for at in range(0, len(found), LOOK_UP_BATCH):  # first chains run meanwhile
            _hand_out(found[at : at + LOOK_UP_BATCH], hand_out, verify=True)
    else:
        if request.follow_up is not None:
            release_follow_up(request.follow_up)
        changed, cursor = cursor_orders(settling)
        changed.sort(key=lambda o: (update_moment(o), str(o["id"])))
        found = [(str(o["id"]), o) for o in changed]
        for at in range(0, len(found), HAND_OUT_BATCH):
            _hand_out(found[at : at + HAND_OUT_BATCH], hand_out, verify=False)
            if at + HAND_OUT_BATCH < len(found):  # a poll killed later does not redo these
                following = update_moment(changed[at + HAND_OUT_BATCH])
                cursor.checkpoint(following - timedelta(microseconds=1))
        cursor.commit()  # only now: each order has its ledger row and its message
    restarted = [] if request.ids else stalled(NAME, DIRECTION)
    # a lost chain: look in Acumatica first, the PUT may have landed
    hand_out(Start("sync", order_id, {"verify": True}) for order_id in restarted)
    booked = claim_follow_up(settling, after=request.follow_up)
    if booked is not None:
        schedule_poll(NAME, countdown=booked[1], follow_up=booked[0])
    return {
        "started": [order_id for order_id, _ in found],
        "restarted": restarted,
        "follow_up_in": round(booked[1], 3) if booked else None,
    }


def _resync_chunk(since: str | None, hand_out: HandOut) -> dict[str, Any]:
    """Hand out up to ``RESYNC_CHUNK`` orders changed since ``since`` (None: all), batch by batch
    as they are looked up, then continue in a new poll task from the last update time reached.

    Only X-Cart's ascending ``lastRenewDate`` listing can be continued that way; without it the
    whole resync runs in this task (still one page and one batch in memory at a time). Orders of
    the second where a chunk stops may be handed out twice: their chains find the ledger row.
    """
    listing = changed_orders(since=since, all=since is None)
    chunked = resync_can_continue()
    handed = 0
    last: str | None = None
    batch: list[tuple[str, dict[str, Any]]] = []
    for order in listing:
        batch.append((str(order["id"]), order))
        last = order.get("update_date") or last
        handed += 1
        if len(batch) >= LOOK_UP_BATCH:
            _hand_out(batch, hand_out, verify=True)
            batch = []
            if chunked and handed >= RESYNC_CHUNK and _moved_past(last, since):
                schedule_poll(NAME, since=str(last))
                return {"handed_out": handed, "continues_since": str(last)}
    if batch:
        _hand_out(batch, hand_out, verify=True)
    return {"handed_out": handed, "continues_since": None}


def _hand_out(
    batch: Sequence[tuple[str, Mapping[str, Any] | None]], hand_out: HandOut, *, verify: bool
) -> None:
    """One chain per order, with the order as read; ``verify`` (resyncs) looks the batch up in
    Acumatica in one call and hands each chain its answer."""
    readable = (o for _, o in batch if o is not None)
    remote = look_up_batch(readable) if verify else {}
    starts = []
    for order_id, order in batch:
        hints: dict[str, Any] = {"verify": verify}
        if order is not None:
            hints["order"] = order
        if order_id in remote:
            hints["remote"] = remote[order_id]
        starts.append(Start("sync", order_id, hints))
    hand_out(starts)


def _moved_past(last: str | None, since: str | None) -> bool:
    """A continuation from ``last`` makes progress (more orders than a chunk sharing the second
    the resync started from would otherwise be read again and again)."""
    if last is None:
        return False
    if since is None:
        return True
    reached, started = parse_optional(last), parse_optional(since)
    return reached is not None and started is not None and reached > started


def on_webhook(event: str, data: Mapping[str, Any]) -> list[Start]:
    """A signed X-Cart store webhook (``order.*``): the same chain a poll would start."""
    nested = data.get("order")
    order: Mapping[str, Any] = nested if isinstance(nested, Mapping) else data
    if order.get("id") is None:
        return []
    hints = {"order": dict(order)} if order.get("items") else {}
    return [Start("sync", str(order["id"]), hints)]


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
    with session_scope() as session:
        linked = linked_sources(session, NAME, DIRECTION, list(numbers))
    numbers = {order_id: n for order_id, n in numbers.items() if order_id not in linked}
    found: dict[str, dict[str, Any]] = {}
    for batch in _look_up_batches(order_type, list(dict.fromkeys(numbers.values()))):
        rows = clients.acumatica().get_list(
            "SalesOrder", filter=_look_up_filter(order_type, batch), select=list(ORDER_SELECT)
        )
        for row in rows:
            found.setdefault(_comparable(row.get("CustomerOrder")), row)
    return {order_id: {"found": found.get(_comparable(n))} for order_id, n in numbers.items()}


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
    cursor = order_cursor()
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


def _follow_up_key() -> str:
    return prefixed(NAME, "poll", "follow_up")


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
    compare_and_delete(_follow_up_key(), token)


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


#: Orders read, looked up in the ledger and compared with their sales orders per batch.
COMPARE_BATCH = 200


def _chunks(orders: Iterable[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for order in orders:
        batch.append(order)
        if len(batch) >= COMPARE_BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _ledger_rows(order_ids: list[str]) -> dict[str, tuple[str | None, str | None, str]]:
    """``{order id: (target key, content hash, status)}`` of the orders the ledger has, in one
    query."""
    with session_scope() as session:
        rows = session.query(
            SyncRecord.source_id, SyncRecord.target_key, SyncRecord.content_hash, SyncRecord.status
        ).filter(
            SyncRecord.flow == NAME,
            SyncRecord.direction == DIRECTION,
            SyncRecord.source_id.in_(order_ids),
        )
        return {source: (key, known, status) for source, key, known, status in rows}


def _compared(
    batch: list[dict[str, Any]],
) -> Iterator[tuple[dict[str, Any], tuple[str | None, str | None, str] | None, Any]]:
    """Each order of ``batch`` with its ledger row and its sales order (``None`` when gone; not
    read for an order the ledger does not link), read in one ledger query and batched reads."""
    rows = _ledger_rows([str(o["id"]) for o in batch])
    keys = [row[0] for row in rows.values() if row[0]]
    sales = compare.read_sales_orders(keys) if keys else {}
    for order in batch:
        row = rows.get(str(order["id"]))
        yield order, row, sales.get(row[0]) if row and row[0] else None


def plan(since: Any = None, ids: list[Any] | None = None, all: bool = False) -> list:
    """What a resync would do, with the fields it would change in each sales order, without
    writing anywhere (X-Cart, ledger and Acumatica reads only; sales orders read in batches)."""
    xcart = clients.xcart()
    orders: Iterable[dict[str, Any]] = (
        [xcart.get_order(int(i)) for i in ids]
        if ids
        else changed_orders(since=since, all=all or since is None)
    )
    planned: list[PlannedChange] = []
    tmpl = template()
    for batch in _chunks(orders):
        for order, row, sales_order in _compared(batch):
            planned.append(_planned(order, row, sales_order, tmpl))
    return planned


def _planned(
    order: dict[str, Any],
    row: tuple[str | None, str | None, str] | None,
    sales_order: dict[str, Any] | None,
    tmpl: dict[str, Any],
) -> PlannedChange:
    source = str(order["id"])
    key, known_hash = (row[0], row[1]) if row else (None, None)
    if key is None:
        try:
            action = order_map.payment_action(order, tmpl)
        except PermanentError as exc:
            return PlannedChange(NAME, DIRECTION, source, "error", reason=str(exc))
        return PlannedChange(
            NAME,
            DIRECTION,
            source,
            "skip" if action == "skip" else "create",
            reason=f"payment status action {action}",
        )
    if sales_order is None:
        return PlannedChange(
            NAME, DIRECTION, source, "error", key, "the sales order is gone from Acumatica"
        )
    changes, editable, why = compare.safe_compare(order, sales_order, tmpl)
    if known_hash == order_hash(order):
        if changes and editable:
            why = "unchanged in X-Cart; Acumatica differs (reconcile orders --repair writes it)"
        return PlannedChange(
            NAME, DIRECTION, source, "skip", key, why or "unchanged", tuple(changes)
        )
    if not editable:
        return PlannedChange(NAME, DIRECTION, source, "skip", key, why, tuple(changes))
    try:
        cancel = order_map.payment_action(order, tmpl) == "cancel"
    except PermanentError as exc:
        return PlannedChange(NAME, DIRECTION, source, "error", key, str(exc))
    kind: Action = "cancel" if cancel else "update"
    reason = "changed in X-Cart" if changes else "changed in X-Cart; no field it writes differs"
    return PlannedChange(NAME, DIRECTION, source, kind, key, reason, tuple(changes))


def drift(since: Any = None) -> list[Drift]:
    """Orders never synced, synced orders whose sales order is gone from Acumatica, and sales
    orders whose fields differ from what the mapping makes of the X-Cart order now
    (``mismatch``, the fields in ``details``; see :mod:`.compare`).

    Sales orders are read in batches of ``compare.READ_BATCH``. ``since`` limits the check to
    the orders X-Cart changed since then and the synced orders whose sales order Acumatica
    changed since then (an edit made in the ERP)."""
    found: list[Drift] = []
    tmpl = template()
    seen: set[str] = set()
    for batch in _chunks(changed_orders(since=since, all=since is None)):
        seen.update(str(order["id"]) for order in batch)
        found += _drift_of(batch, tmpl)
    if since is not None:
        for batch in _chunks(_changed_in_acumatica(since, seen)):
            found += _drift_of(batch, tmpl)
    return found


def _drift_of(batch: list[dict[str, Any]], tmpl: dict[str, Any]) -> list[Drift]:
    found: list[Drift] = []
    for order, row, sales_order in _compared(batch):
        source = str(order["id"])
        key, status = (row[0], row[2]) if row else (None, None)
        if key is None:
            if status != Status.DEAD_LETTERED.value:
                found.append(Drift(NAME, DIRECTION, source, None, "missing_in_target"))
            continue
        if sales_order is None:
            found.append(Drift(NAME, DIRECTION, source, key, "target_gone"))
            continue
        changes, editable, why = compare.safe_compare(order, sales_order, tmpl)
        if changes or not editable:
            details = mismatch_details(
                changes, repairable=editable, reason=why, status=sales_order.get("Status")
            )
            found.append(Drift(NAME, DIRECTION, source, key, "mismatch", details))
    return found


def _changed_in_acumatica(since: Any, seen: set[str]) -> Iterator[dict[str, Any]]:
    """The X-Cart orders (not in ``seen``) of the synced sales orders Acumatica changed since
    ``since`` (``LastModified``: SalesOrder has no ``LastModifiedDateTime``): the keys from one
    filtered listing, the links from the ledger, each order read."""
    moment = parse_optional(since)
    if moment is None:
        return
    order_type = str(order_map.store_settings(template())["order_type"])
    rows = clients.acumatica().iter_list(
        "SalesOrder",
        filter=(F("OrderType") == order_type) & (F("LastModified") >= moment),
        select=["OrderType", "OrderNbr"],
    )
    keys = [f"{row['OrderType']}/{row['OrderNbr']}" for row in rows]
    sources: list[str] = []
    for at in range(0, len(keys), 500):
        with session_scope() as session:
            sources += [
                source
                for (source,) in session.query(SyncRecord.source_id).filter(
                    SyncRecord.flow == NAME,
                    SyncRecord.direction == DIRECTION,
                    SyncRecord.target_key.in_(keys[at : at + 500]),
                )
            ]
    xcart = clients.xcart()
    for source in dict.fromkeys(sources):
        if source in seen:
            continue
        try:
            yield xcart.get_order(int(source))
        except NotFound:  # the order is gone from the store: nothing to compare it with
            continue


def forget_hashes(order_ids: Iterable[str]) -> None:
    """Make the next chain of these orders write their sales orders even though X-Cart did not
    change them (a repair of fields changed in Acumatica): their ledger hash is cleared."""
    ids = [str(i) for i in order_ids]
    if not ids:
        return
    with session_scope() as session:
        session.query(SyncRecord).filter(
            SyncRecord.flow == NAME,
            SyncRecord.direction == DIRECTION,
            SyncRecord.source_id.in_(ids),
            SyncRecord.target_key.is_not(None),
        ).update({SyncRecord.content_hash: None}, synchronize_session=False)
