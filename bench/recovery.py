"""Orders held by a SIGKILLed worker: seconds from the kill until another worker finishes them.

For each broker (RabbitMQ, then Redis): an engine with its shipped reliability settings (broker
visibility timeout, late acks, lock timeout, retries) and 2 workers x 2 prefork processes, the
Acumatica sandbox answering every request ``LATENCY_MS`` late, beat polling orders every
``ORDERS_POLL_SECONDS``. Each round places ``ORDERS_PER_KILL`` orders of known buyers; once the
orders poll has handed them out and worker ``w0`` runs order chains, ``celery inspect active``
and ``reserved`` on ``w0`` name the orders it holds (the messages it has taken and not
acknowledged), and its whole process group (main process and pool children) gets SIGKILL. The
worker is restarted and the next round begins. A held order is finished when a later run of its
chain ends ``ok`` in the ledger's history (``sync_runs``: the sales order created or found, the
write-back and the payments done), or ``skipped`` as done already, with the order's ledger row
linked; its figure is the seconds
from the kill to the end of that run. An order not finished ``timeout`` seconds after its kill
counts as beyond that bound in the percentiles and is reported as unfinished.
"""

from __future__ import annotations

import math
import re
import signal
import socket
import time
import traceback
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from bench.engine import Driver
from bench.measure import Ledger, load, percentile
from bench.stack import Stack
from sync_workers.settings import VARIABLES

BROKERS = ("rabbitmq", "redis")
WORKERS = 2
CONCURRENCY = 2
VICTIM = 0
LATENCY_MS = 150
ORDERS_PER_KILL = 24
ORDERS_POLL_SECONDS = 2
SYNC_TASK = "tasks.orders.sync"
#: The target for RabbitMQ: p95 of the seconds to finish a held order.
TARGET_P95 = 60.0
#: Only the polls: every reliability setting (visibility timeout, locks, retries, time limits,
#: and the read timeouts, which bound how long a killed holder's write may still land) stays as
#: shipped.
ENGINE_ENV = {
    "ORDERS_POLL_INTERVAL_SECONDS": str(ORDERS_POLL_SECONDS),
    "POLL_INTERVAL_SECONDS": "600",
    **{
        variable.name: str(variable.default)
        for variable in VARIABLES
        if variable.name in ("ACUMATICA_READ_TIMEOUT", "XCART_READ_TIMEOUT")
    },
}
#: The engine settings that decide when a held order comes back, as the stack runs them.
SHIPPED = (
    "broker_visibility_timeout",
    "lock_timeout",
    "task_time_limit",
    "retry_max",
    "retry_backoff_base",
    "retry_backoff_max",
    "stall_seconds",
    "acumatica_read_timeout",
    "xcart_read_timeout",
)
_RECORD_ID = re.compile(r"'record_id':\s*'?(\d+)")
LOCKED = "being processed by another worker"


def held_orders(tasks: Iterable[dict[str, Any]]) -> list[str]:
    """The order ids of the ``tasks.orders.sync`` tasks in a ``celery inspect active`` or
    ``reserved`` reply (the ids-only ``kwargs`` repr names ``record_id``), in reply order."""
    found: list[str] = []
    for task in tasks:
        if task.get("name") != SYNC_TASK:
            continue
        match = _RECORD_ID.search(str(task.get("kwargs") or ""))
        if match and match.group(1) not in found:
            found.append(match.group(1))
    return found


def task_ids(tasks: Iterable[dict[str, Any]]) -> dict[str, str]:
    """Order id -> the Celery task id of its ``tasks.orders.sync`` message in an inspect reply
    (a retry keeps its task id; another hand-out of the same order has a new one)."""
    return {order_id: str(task.get("id")) for task in tasks for order_id in held_orders([task])}


def figures(seconds: list[float | None], bound: float) -> dict[str, Any]:
    """p50/p95/max (nearest rank) over every held order; ``None`` in ``seconds`` is an order not
    finished within ``bound`` and ranks above every finished one: a percentile that falls on one
    is ``None`` (beyond the bound)."""
    done = sorted(s for s in seconds if s is not None)
    out: dict[str, Any] = {
        "held": len(seconds),
        "finished": len(done),
        "unfinished": len(seconds) - len(done),
        "bound_seconds": bound,
    }
    if not seconds:
        return {**out, "p50": None, "p95": None, "max": None}
    ranked = done + [math.inf] * out["unfinished"]
    for name, pct in (("p50", 50.0), ("p95", 95.0), ("max", 100.0)):
        value = percentile(ranked, pct)
        out[name] = None if math.isinf(value) else round(value, 1)
    return out


def met(result: dict[str, Any]) -> bool | None:
    """The RabbitMQ verdict: p95 within ``TARGET_P95`` (None: no order was held)."""
    if not result["held"]:
        return None
    return result["p95"] is not None and result["p95"] <= TARGET_P95


def run(
    *,
    kills: int = 5,
    timeout: float = 600.0,
    buyers: int = 20,
    brokers: Iterable[str] = BROKERS,
) -> dict[str, Any]:
    return {
        "workers": WORKERS,
        "concurrency": CONCURRENCY,
        "acumatica_latency_ms": LATENCY_MS,
        "kills_per_broker": kills,
        "timeout_seconds": timeout,
        "target_p95_seconds_rabbitmq": TARGET_P95,
        "held_from": "celery inspect active + reserved on the victim just before the kill",
        "brokers": {
            broker: _measured(broker, kills=kills, timeout=timeout, buyers=buyers)
            for broker in brokers
        },
    }


def _measured(broker: str, *, kills: int, timeout: float, buyers: int) -> dict[str, Any]:
    """One broker's figure, or what stopped it (RabbitMQ not running): the other broker's
    figure is still measured."""
    try:
        return _broker(broker, kills=kills, timeout=timeout, buyers=buyers)
    except Exception as exc:
        traceback.print_exc()
        return {"broker": broker, "error": f"{type(exc).__name__}: {exc}"}


def _broker(broker: str, *, kills: int, timeout: float, buyers: int) -> dict[str, Any]:
    with Stack(name="bench-recovery", broker=broker, extra_env=ENGINE_ENV) as stack:
        stack.start_redis()
        stack.start_sandboxes()
        stack.migrate()
        stack.apply_env()
        from sync_workers.settings import get_settings

        settings = get_settings()
        shipped = {name: getattr(settings, name) for name in SHIPPED}
        driver = Driver(stack)
        driver.raise_stock()
        driver.acumatica.faults({"latency_ms": {"*": LATENCY_MS}})
        for index in range(WORKERS):
            stack.start_worker(index, CONCURRENCY)
        driver.wait_workers(WORKERS, timeout=120)
        stack.start_beat()
        load_before = load()
        _warm_up(driver, buyers)
        rounds = []
        for number in range(1, kills + 1):
            rounds.append(_kill_round(stack, driver, number, buyers=buyers))
            print(
                f"recovery {broker}: kill {number}: held {len(rounds[-1]['held'])} order(s)",
                flush=True,
            )
        _wait_finished(driver.ledger, rounds, timeout)
        _measure(driver.ledger, rounds, timeout)
        orders = [o for r in rounds for o in r["orders"]]
        locked = [
            o
            for r in rounds
            for o in r["orders"]
            if o["order_id"] in r["lock_seconds_left_at_kill"]
        ]
        return {
            "broker": broker,
            "shipped_settings": shipped,
            **figures([o["seconds"] for o in orders], timeout),
            "held_with_lock": len(locked),
            "held_with_lock_seconds": [o["seconds"] for o in locked],
            "lock_busy_retries": sum(o["lock_busy_retries"] for o in orders),
            "kills": rounds,
            "load_before": load_before,
            "load_after": load(),
        }


def _warm_up(driver: Driver, buyers: int) -> None:
    """One order per buyer, synced: every later order's buyer is a known customer."""
    placed = {str(o["id"]) for o in driver.place(buyers, buyers=buyers, offset=driver.placed)}
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        linked = {s for s, key, _st, _at in driver.ledger.rows("orders") if key}
        if placed <= linked:
            return
        time.sleep(0.5)
    raise TimeoutError("the warm-up orders were not synced within 300 s")


def _node(index: int) -> str:
    return f"w{index}@{socket.gethostname()}"


def _inspect(driver: Driver, what: str, node: str) -> list[dict[str, Any]]:
    inspector = driver.app.control.inspect(destination=[node], timeout=1.0, limit=1)
    replies = getattr(inspector, what)() or {}
    return list(replies.get(node) or [])


def _kill_round(stack: Stack, driver: Driver, number: int, *, buyers: int) -> dict[str, Any]:
    """Orders for both workers, SIGKILL to ``w0``'s process group while it runs this round's
    order chains, ``w0`` restarted. The held orders are those ``w0`` had taken (active or
    reserved)."""
    node = _node(VICTIM)
    fresh = {
        str(o["id"]) for o in driver.place(ORDERS_PER_KILL, buyers=buyers, offset=driver.placed)
    }
    deadline = time.monotonic() + 120
    more_at = time.monotonic() + 30
    busy_since: float | None = None
    while True:
        if busy_since is None and time.monotonic() > more_at:  # the other worker took them all
            fresh |= {
                str(o["id"])
                for o in driver.place(ORDERS_PER_KILL, buyers=buyers, offset=driver.placed)
            }
            more_at = time.monotonic() + 30
        active = _inspect(driver, "active", node)
        # This round's orders: a retry of an order an earlier kill held does not count.
        running = [o for o in held_orders(active) if o in fresh]
        now = time.monotonic()
        if running and busy_since is None:
            busy_since = now
        # Both pool processes in a chain, or one for 3 s (the other may be between tasks).
        if len(running) >= CONCURRENCY or (busy_since is not None and now - busy_since > 3):
            break
        if now > deadline:
            raise TimeoutError(f"{node} ran no order chain within 120 s of the orders")
    reserved = _inspect(driver, "reserved", node)
    victim = stack.workers[VICTIM]
    victim.signal_group(signal.SIGKILL)
    killed_at = time.time()
    held_active = held_orders(active)
    held_reserved = [o for o in held_orders(reserved) if o not in held_active]
    locks = _lock_ttls(stack, held_active + held_reserved)
    other = sorted({t.get("name", "?") for t in active + reserved} - {SYNC_TASK})
    _restart(stack, driver, victim)
    return {
        "kill": number,
        "killed_at": datetime.fromtimestamp(killed_at, tz=UTC).isoformat(timespec="milliseconds"),
        "killed_epoch": killed_at,
        "held": held_active + held_reserved,
        "held_active": held_active,
        "held_reserved": held_reserved,
        "other_tasks_lost": other,
        "lock_seconds_left_at_kill": locks,
        "task_ids": {**task_ids(reserved), **task_ids(active)},
        "victim_pids": [victim.pid],
    }


def _lock_ttls(stack: Stack, order_ids: list[str]) -> dict[str, float]:
    """Seconds each held order's lock (``lock:orders:<id>``) has left, read right after the
    kill: the orders the killed task held it for (the push, write-back and payments steps)."""
    import redis

    client = redis.Redis.from_url(stack.env["REDIS_URL"])
    prefix = stack.env["REDIS_KEY_PREFIX"]
    found = {}
    for order_id in order_ids:
        left = int(client.pttl(f"{prefix}lock:orders:{order_id}"))
        if left > 0:
            found[order_id] = round(left / 1000, 1)
    return found


def _restart(stack: Stack, driver: Driver, victim: Any) -> None:
    stack.group.remove(victim, grace=0)
    stack.workers.remove(victim)
    proc = stack.start_worker(VICTIM, CONCURRENCY)
    stack.workers.remove(proc)
    stack.workers.insert(VICTIM, proc)
    driver.wait_workers(WORKERS, timeout=120)


# -- the ledger's view --------------------------------------------------------------------


def _epoch(value: Any) -> float:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


Run = tuple[float, float, str, str, str, str]


def _runs(ledger: Ledger, order_ids: Iterable[str]) -> dict[str, list[Run]]:
    """Each order's chain runs: (start epoch, end epoch, outcome, error, task id, steps)."""
    from sqlalchemy import bindparam, text

    ids = sorted(set(order_ids))
    found: dict[str, list[Run]] = {i: [] for i in ids}
    if not ids:
        return found
    query = text(
        "select source_id, started_at, duration_ms, outcome, error, task_id, steps from sync_runs "
        "where flow = 'orders' and task = :task and source_id in :ids"
    ).bindparams(bindparam("ids", expanding=True))
    with ledger.engine.connect() as db:
        for source, started, duration, outcome, error, task_id, steps in db.execute(
            query, {"task": SYNC_TASK, "ids": ids}
        ):
            start = _epoch(started)
            end = start + duration / 1000
            found[str(source)].append(
                (start, end, outcome, error or "", task_id or "", steps or "")
            )
    for runs in found.values():
        runs.sort()
    return found


#: Outcomes of a run that leaves the order finished: its work done, or found done already (the
#: killed task linked the sales order before it died; the run after it skips the order).
FINISHING = ("ok", "skipped")


def _finished(runs: list[Run], after: float) -> Run | None:
    """The first run that ended ``ok``, or ``skipped`` as done, after ``after``."""
    done = [run for run in runs if run[2] in FINISHING and run[1] > after]
    return min(done, key=lambda run: run[1]) if done else None


def _linked(ledger: Ledger) -> set[str]:
    return {str(s) for s, key, _st, _at in ledger.rows("orders") if key}


def _first_kill(rounds: list[dict[str, Any]]) -> dict[str, float]:
    """Each held order's first kill (an order held again by a later kill is measured from its
    first one)."""
    first: dict[str, float] = {}
    for round_ in rounds:
        for order_id in round_["held"]:
            first.setdefault(order_id, round_["killed_epoch"])
    return first


def _wait_finished(ledger: Ledger, rounds: list[dict[str, Any]], timeout: float) -> None:
    """Until every held order is finished or ``timeout`` has passed since its kill."""
    first = _first_kill(rounds)
    while first:
        runs = _runs(ledger, first)
        linked = _linked(ledger)
        now = time.time()
        waiting = [
            order_id
            for order_id, killed in first.items()
            if now - killed < timeout
            and not (order_id in linked and _finished(runs[order_id], killed) is not None)
        ]
        if not waiting:
            return
        time.sleep(1.0)


def _measure(ledger: Ledger, rounds: list[dict[str, Any]], timeout: float) -> None:
    """Each held order's seconds to finish (``None``: not within ``timeout``), per round."""
    first = _first_kill(rounds)
    runs = _runs(ledger, first)
    linked = _linked(ledger)
    statuses = {str(s): st for s, _key, st, _at in ledger.rows("orders")}
    measured: set[str] = set()
    for round_ in rounds:
        killed = round_["killed_epoch"]
        orders = []
        for order_id in round_["held"]:
            mine = runs[order_id]
            finish = _finished(mine, killed)
            ended = None if finish is None else finish[1]
            if any(run[1] <= killed and run[2] == "ok" for run in mine):
                round_.setdefault("finished_before_kill", []).append(order_id)
                continue
            if order_id in measured:
                round_.setdefault("held_again", []).append(order_id)
                continue
            measured.add(order_id)
            done = ended is not None and order_id in linked and ended - killed <= timeout
            after = [(run[2], run[3]) for run in mine if run[0] > killed]
            held_task = round_["task_ids"].get(order_id)
            orders.append({
                "order_id": order_id,
                "seconds": round(ended - killed, 2) if done and ended is not None else None,
                "runs_after_kill": len(after),
                "lock_busy_retries": sum(1 for o, e in after if o == "retry" and LOCKED in e),
                "outcomes_after_kill": [o for o, _e in after],
                # each run after the kill: when it started and how long it took, in seconds,
                # the steps it ran and how it ended (why a slow order was slow)
                "runs": [
                    {
                        "started": round(run[0] - killed, 2),
                        "seconds": round(run[1] - run[0], 2),
                        "steps": run[5],
                        "outcome": run[2],
                        "error": run[3][:200],
                    }
                    for run in mine
                    if run[0] > killed
                ],
                "ledger_status": statuses.get(order_id),
                # the held message again (redelivered or retried), or another hand-out of it
                "finished_by": None if finish is None else (
                    "held message" if finish[4] == held_task else "another message"
                ),
            })  # fmt: skip
        round_["orders"] = orders
        round_["seconds"] = [o["seconds"] for o in orders]
