"""The engine on RabbitMQ (``BROKER_URL=amqp://…``), in worker processes started as ``make worker``
starts them, against the sandboxes: orders reach Acumatica exactly once, a killed worker's
orders are finished by another (on either broker, the wait measured), a retry waits in
RabbitMQ's delayed-delivery queues, and a bad ``BROKER_URL`` stops every process at start."""

from __future__ import annotations

import json
import re
import time
import uuid
from typing import Any

import pytest

from sync_workers import clients
from sync_workers.celery import QUEUES
from sync_workers.connectors.acumatica.filters import F
from sync_workers.dlq import DeadLetterQueue
from sync_workers.settings import get_settings
from tests.broker.conftest import Worker, engine_command, queue_messages, queue_types
from tests.flows.order_to_cash.helpers import (
    acumatica_stats,
    address,
    checkout,
    entity_calls,
    linked,
    sandbox,
    wait_for,
)

SALES_ORDER_PUT = "PUT /entity/Default/24.200.001/SalesOrder"
#: Each SalesOrder PUT is stored, then held without an answer until the faults change: the
#: case where a worker dies after its write was applied and before it learnt so.
HOLD_SALES_ORDERS = {
    "rules": [{"path": "/SalesOrder$", "method": "PUT", "ptimeout": 1.0, "after_commit": True}],
    "timeout_seconds": 30,
}


def place(xcart: str, tag: str) -> dict[str, Any]:
    email = f"{tag}.{uuid.uuid4().hex[:6]}@example.com"
    return checkout(
        xcart,
        {
            "email": email,
            "items": [{"sku": "AA-0009", "amount": 1}],
            "billing_address": address("Rab", "Bit " + tag, "OR"),
            "payment_method": "Credit Card",
        },
    )


def acumatica_copies(order: dict[str, Any]) -> tuple[int, int]:
    """How many sales orders and payments Acumatica holds for ``order``."""
    client = clients.acumatica()
    orders = client.get_list("SalesOrder", filter=F("CustomerOrder") == order["order_number"])
    payments = client.get_list("Payment", filter=F("PaymentRef") == f"XC-{order['id']}")
    return len(orders), len(payments)


def synced(orders: list[dict[str, Any]]) -> bool:
    ids = {str(o["id"]) for o in orders}
    return ids <= set(linked("orders")) and len(linked("payments")) >= len(ids)


def resync(broker_env: dict[str, str], orders: list[dict[str, Any]]) -> None:
    ids = [arg for o in orders for arg in ("--id", str(o["id"]))]
    published = engine_command("resync", "orders", *ids, **broker_env)
    assert published.returncode == 0, published.stderr


def ready(*workers: Worker) -> None:
    for worker in workers:
        worker.wait_for(" ready.")


def test_an_order_becomes_one_sales_order_and_payment_on_rabbitmq(
    sandboxes, clean_ledger, redis_client, vhost, start_worker
) -> None:
    xcart, acumatica = sandboxes["xcart"].url, sandboxes["acumatica"].url
    order = place(xcart, "once")
    prefix = get_settings().redis_key_prefix
    workers = [start_worker("a", BROKER_URL=vhost), start_worker("b", BROKER_URL=vhost)]
    ready(*workers)

    resync({"BROKER_URL": vhost}, [order])

    wait_for(lambda: synced([order]), timeout=60)
    assert acumatica_copies(order) == (1, 1)
    assert entity_calls(acumatica_stats(acumatica)).get(SALES_ORDER_PUT) == 1
    assert {queue_types(vhost)[name] for name in QUEUES} == {"quorum"}
    for worker in workers:
        assert "Connected to amqp://" in worker.text()
    # Redis kept the engine's state and carried no message: no kombu queue or binding there.
    assert not list(redis_client.scan_iter(match=f"{prefix}_kombu*"))
    assert not any(redis_client.exists(prefix + name) for name in QUEUES)


def _active_orders(broker_env: dict[str, str]) -> dict[str, list[str]]:
    """``celery inspect active``: the orders each worker is running (ids from the task's
    ids-only ``kwargsrepr``)."""
    answer = engine_command("inspect", "active", "--json", **broker_env)
    assert answer.returncode == 0, answer.stderr
    replies = json.loads(answer.stdout.strip().splitlines()[-1])
    return {
        node: [
            re.search(r"'record_id': '(\d+)'", t["kwargs"])[1]  # type: ignore[index]
            for t in tasks
            if t["name"] == "tasks.orders.sync"
        ]
        for node, tasks in replies.items()
    }


def _order_reads(xcart: str, order_ids: list[str]) -> dict[str, int]:
    """X-Cart requests for each order so far: a chain's first step reads its order."""
    by_path = sandbox(xcart, "stats")["requests"]["by_path"]
    return {
        oid: sum(n for path, n in by_path.items() if path.startswith(f"GET /api/orders/{oid}"))
        for oid in order_ids
    }


@pytest.mark.parametrize("broker", ["rabbitmq", "redis"])
def test_orders_held_by_a_killed_worker_are_finished_by_another_exactly_once(
    broker, request, sandboxes, clean_ledger, redis_client, start_worker
) -> None:
    """Two workers hold two orders at their sales order's PUT (stored, no answer yet); the one
    holding more is SIGKILLed with its pool. RabbitMQ hands its messages to the other worker as
    the connection drops; Redis once they are BROKER_VISIBILITY_TIMEOUT (60 s here) old. The
    other worker takes the dead tasks' record locks over once their holder's heartbeat has been
    gone a while (on RabbitMQ with the shipped LOCK_TIMEOUT, 330 s: long before the locks
    expire), finds each sales order the dead worker stored, and creates nothing twice."""
    if broker == "rabbitmq":
        env = {"BROKER_URL": request.getfixturevalue("vhost"), "LOCK_TIMEOUT": "330"}
        prefix = get_settings().redis_key_prefix
    else:  # a key prefix of its own: its queues, locks and dead letters, removed after the test
        prefix = f"{get_settings().redis_key_prefix}k{uuid.uuid4().hex[:6]}:"
        env = {"REDIS_KEY_PREFIX": prefix}
    xcart, acumatica = sandboxes["xcart"].url, sandboxes["acumatica"].url
    orders = [place(xcart, f"kill{n}") for n in range(2)]
    workers = [start_worker("a", **env), start_worker("b", **env)]
    ready(*workers)
    sandbox(acumatica, "faults", HOLD_SALES_ORDERS)

    resync(env, orders)
    wait_for(lambda: entity_calls(acumatica_stats(acumatica)).get(SALES_ORDER_PUT) == 2, 60)
    active = _active_orders(env)
    node, held = max(active.items(), key=lambda item: len(item[1]))
    assert held, active
    [victim] = [w for w in workers if node.startswith(f"{w.name}-")]
    [other] = [w for w in workers if w is not victim]
    reads = _order_reads(xcart, held)
    victim.kill()
    killed_at = time.monotonic()
    sandbox(acumatica, "faults", {"rules": []})  # the survivor's own held PUT is let go

    def read_again() -> bool:
        now = _order_reads(xcart, held)
        return all(now[oid] > reads[oid] for oid in held)

    wait_for(read_again, timeout=120, interval=0.05)
    redelivered = time.monotonic() - killed_at
    wait_for(lambda: synced(orders), timeout=120, interval=0.1)
    finished = time.monotonic() - killed_at

    print(
        f"\n[{broker}] {len(held)} order(s) of the killed worker: redelivered after "
        f"{redelivered:.1f} s, finished after {finished:.1f} s"
    )
    assert [acumatica_copies(o) for o in orders] == [(1, 1), (1, 1)]
    assert entity_calls(acumatica_stats(acumatica))[SALES_ORDER_PUT] == 2  # the held ones only
    assert list(DeadLetterQueue(redis_client, prefix).iter_entries(status="open")) == []
    # The survivor's retries while the locks expire back off by under a second at first: on
    # RabbitMQ they are published as one-second delays, never refused.
    assert "could not schedule retry" not in other.text()
    if broker == "rabbitmq":
        assert redelivered < 5  # at once: the dead connection's unacknowledged messages
        assert finished < 90  # the locks taken over, not expired (330 s)
    else:
        assert redelivered > 30  # not before the visibility timeout (from delivery, 60 s)


def test_a_retry_waits_in_rabbitmqs_delayed_delivery_queues_not_in_a_worker(
    sandboxes, clean_ledger, vhost, start_worker
) -> None:
    xcart, acumatica = sandboxes["xcart"].url, sandboxes["acumatica"].url
    order = place(xcart, "retry")
    worker = start_worker("a", BROKER_URL=vhost, RETRY_BACKOFF_BASE="4", RETRY_BACKOFF_MAX="8")
    ready(worker)
    sandbox(acumatica, "faults", {"rules": [{"path": "/SalesOrder$", "method": "PUT", "p503": 1}]})

    resync({"BROKER_URL": vhost}, [order])

    def delayed() -> dict[str, int]:
        return {
            name: count
            for name, count in queue_messages(vhost).items()
            if name.startswith("celery_delayed_") and count
        }

    waiting = wait_for(delayed, timeout=60, interval=0.05)
    sandbox(acumatica, "faults", {"rules": []})
    wait_for(lambda: synced([order]), timeout=60)

    assert sum(waiting.values()) == 1, waiting
    assert acumatica_copies(order) == (1, 1)
    assert entity_calls(acumatica_stats(acumatica))[SALES_ORDER_PUT] >= 2
    assert f"tasks.orders.sync: record {order['id']}, step push: retry 1/12 in" in worker.text()
    assert "could not schedule retry" not in worker.text()


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("kafka://broker:9092", "must be a URL with scheme amqp or amqps or redis"),
        ("amqp://sync:n0t-shown-pw@/vhost", "must name RabbitMQ's host"),
        ("amqp://sync:n0t-shown-pw@rabbit:56x2/vhost", "has a port that is not a number"),
    ],
)
def test_a_bad_broker_url_stops_the_worker_and_the_cli_at_start(url: str, says: str) -> None:
    for command in (("worker", "-l", "INFO"), ("resync", "orders", "--id", "1")):
        answer = engine_command(*command, BROKER_URL=url)
        assert answer.returncode == 2, (command, answer.stdout, answer.stderr)
        assert f"configuration error: BROKER_URL: {says}" in answer.stderr
        assert "Traceback" not in answer.stderr
        assert "n0t-shown-pw" not in answer.stdout + answer.stderr


def test_queue_lengths_are_read_from_rabbitmq(sandboxes, clean_ledger, vhost) -> None:
    """With no worker running, what two resyncs published waits in RabbitMQ (one orders poll
    each): sync-status counts it there, not in Redis, where no message is."""
    orders = [place(sandboxes["xcart"].url, "backlog")]

    resync({"BROKER_URL": vhost}, orders)
    resync({"BROKER_URL": vhost}, orders)

    wait_for(lambda: queue_messages(vhost).get("orders") == 2, timeout=30)
    answer = engine_command("sync-status", "--json", BROKER_URL=vhost)
    report = json.loads(answer.stdout[answer.stdout.index("{") :])
    queued = {flow["flow"]: flow["queued"] for flow in report["flows"]}
    assert queued["orders"] == 2, answer.stdout[-2000:]
    assert queued["payments"] == 0
