"""One chaos run: the engine under kills, a Redis restart, a beat restart, API faults and
replayed push notifications, then the invariants from the systems' own data."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from bench.engine import Driver
from bench.measure import load
from bench.sandbox import Acumatica
from bench.stack import WEBHOOK_SECRET, Stack
from chaos import readback
from chaos.invariants import check
from chaos.pushes import Replayer, Tap
from chaos.scenario import Refunder, Shopper, Warehouse, fault_config
from chaos.supervisor import Killer, Supervisor

HEADER = "X-Sync-Secret"


@dataclass
class Options:
    orders: int
    bad: int
    rate: float
    kill_every: float
    workers: int
    concurrency: int
    buyers: int
    ship_share: float
    settle_timeout: float
    refund_share: float
    seed: int
    keep: bool
    broker: str = "redis"


def engine_env() -> dict[str, str]:
    return {
        "ORDERS_POLL_INTERVAL_SECONDS": "2",
        "SHIPMENTS_POLL_INTERVAL_SECONDS": "5",
        "PAYMENTS_POLL_INTERVAL_SECONDS": "120",
        "INVENTORY_POLL_INTERVAL_SECONDS": "600",
        "POLL_INTERVAL_SECONDS": "600",
        "RETRY_MAX": "10",
        "RETRY_BACKOFF_BASE": "1",
        "RETRY_BACKOFF_MAX": "30",
        "TASK_SOFT_TIME_LIMIT": "50",
        "TASK_TIME_LIMIT": "60",
        "BROKER_VISIBILITY_TIMEOUT": "120",
        # Above the hard time limit, as locks must be, and below the retry budget.
        "LOCK_TIMEOUT": "90",
        # A chain lost with its message is restarted by the next poll after this (the default,
        # 2400 s, is longer than the run's settle time).
        "STALL_SECONDS": "180",
        "ACUMATICA_READ_TIMEOUT": "8",
        "XCART_READ_TIMEOUT": "8",
        "XCART_TRACKING_ENDPOINT": "true",
    }


def subscribe(driver: Driver, stack: Stack, tap: Tap) -> None:
    receiver = f"http://127.0.0.1:{stack.webhooks_port}/webhooks/acumatica"
    subs = [
        ("shipments", f"{receiver}/shipments", ["Shipments"]),
        ("inventory", f"{receiver}/inventory", ["ItemAvailability"]),
        ("tap-shipments", f"http://127.0.0.1:{tap.port}/shipments", ["Shipments"]),
        ("tap-inventory", f"http://127.0.0.1:{tap.port}/inventory", ["ItemAvailability"]),
    ]
    for name, url, queries in subs:
        driver.acumatica.post(
            "push",
            {"name": name, "url": url, "queries": queries, "header_name": HEADER,
             "header_value": WEBHOOK_SECRET},
        )  # fmt: skip


def converged(driver: Driver, shopper: Shopper, warehouse: Warehouse, refunder: Refunder) -> bool:
    valid = set(shopper.placed_valid.values())
    orders = driver.ledger.rows("orders")
    linked = {s for s, key, _st, _at in orders if key and s in valid}
    if len(linked) < len(valid):
        return False
    # A bad order a killed worker held comes back with its message (after the broker's
    # visibility timeout on Redis): the verdict waits for its dead letter too.
    bad = {order_id for order_id, _reason in shopper.placed_bad.values()}
    if len({s for s, _key, status, _at in orders if s in bad and status == "dead_lettered"}) < len(
        bad
    ):
        return False
    payments = [(s, key) for s, key, _st, _at in driver.ledger.rows("payments") if key]
    refunds = sum(1 for s, _ in payments if str(s).startswith("refund:"))
    if len(payments) - refunds < len(valid):
        return False
    if refunds < sum(len(v) for v in refunder.refunded.values()):
        return False
    written = {s for s, key, _st, _at in driver.ledger.rows("shipments") if key}
    return set(warehouse.shipped.values()) <= written  # a ledger row per ShipmentNbr


def run(opts: Options) -> dict[str, Any]:
    events: list[str] = []

    def log(message: str) -> None:
        line = f"[{time.strftime('%H:%M:%S')}] {message}"
        events.append(line)
        print(line, flush=True)

    with Stack(
        name="chaos",
        keep=opts.keep,
        redis_persistence=True,
        extra_env=engine_env(),
        broker=opts.broker,
    ) as stack:
        stack.start_redis()
        stack.start_sandboxes()
        stack.migrate()
        stack.apply_env()
        driver = Driver(stack, seed=opts.seed)
        driver.raise_stock()
        driver.xcart.post("config", {"tracking_extension": True})
        tap = Tap()
        subscribe(driver, stack, tap)
        stack.start_webhooks()
        supervisor = Supervisor(lambda i: stack.start_worker(i, opts.concurrency), log=log)
        supervisor.launch(opts.workers)
        driver.wait_workers(opts.workers)
        stack.start_beat()
        killer = Killer(supervisor, opts.kill_every, log=log)
        replayer = Replayer(tap, f"http://127.0.0.1:{stack.webhooks_port}", HEADER, WEBHOOK_SECRET)
        erp = Acumatica(stack.env["ACUMATICA_BASE_URL"])
        warehouse = Warehouse(driver, erp, opts.ship_share)
        refunder = Refunder(driver, warehouse, opts.refund_share)
        shopper = Shopper(driver, opts.orders, opts.bad, opts.rate, opts.buyers)
        fault = fault_config(opts.seed, timeout_seconds=10)
        for control in (driver.xcart, driver.acumatica):
            control.faults(fault)
        log(f"faults on; placing {opts.orders} valid and {opts.bad} bad orders at {opts.rate}/s")
        load_before = load()
        started = time.monotonic()
        placing = (opts.orders + opts.bad) / opts.rate
        redis_at, beat_at = started + 0.4 * placing, started + 0.6 * placing
        redis_done = beat_done = False
        shopper.start()
        try:
            last_ship = last_replay = 0.0
            chaos_until: float | None = None
            while True:
                now = time.monotonic()
                supervisor.check()
                if chaos_until is None and shopper.done.is_set():
                    chaos_until = now + max(2 * opts.kill_every, 30)
                    log(f"all orders placed ({len(shopper.placed_valid)} valid, "
                        f"{len(shopper.placed_bad)} bad, {len(shopper.refused)} refused)")  # fmt: skip
                if chaos_until is not None and now > chaos_until:
                    break
                killer.tick(now)
                if not redis_done and now >= redis_at:
                    log("chaos: restarting Redis (AOF on)")
                    stack.restart_redis()
                    redis_done = True
                if not beat_done and now >= beat_at:
                    log("chaos: restarting beat")
                    stack.stop_beat()
                    stack.start_beat()
                    beat_done = True
                if now - last_ship > 5:
                    warehouse.tick()
                    refunder.tick()
                    last_ship = now
                if now - last_replay > 3:
                    replayer.tick()
                    last_replay = now
                time.sleep(0.5)
            chaos_seconds = time.monotonic() - started
            for control in (driver.xcart, driver.acumatica):
                control.faults({})
            log("chaos over: faults off, no more kills; waiting for the engine to settle")
            settle_started = time.monotonic()
            while time.monotonic() - settle_started < opts.settle_timeout:
                supervisor.check()
                if time.monotonic() - last_ship > 5:
                    warehouse.tick()
                    refunder.tick()
                    last_ship = time.monotonic()
                    replayer.tick()
                if converged(driver, shopper, warehouse, refunder) and not warehouse.tick():
                    break
                time.sleep(1.0)
            settle_seconds = time.monotonic() - settle_started
            replayer.tick()
            time.sleep(3.0)
            stack.stop_beat()  # polls never stop on their own: quiet needs beat gone
            driver.quiet(still=5.0, timeout=300)
            log("reading both systems, the ledger and the dead-letter queue")
            erp.close()
            snap = readback.snapshot(
                xcart_url=stack.env["XCART_BASE_URL"],
                acumatica_url=stack.env["ACUMATICA_BASE_URL"],
                ledger=driver.ledger,
                redis_url=stack.env["REDIS_URL"],
                prefix=stack.env["REDIS_KEY_PREFIX"],
                valid_orders=dict(shopper.placed_valid),
                bad_orders=dict(shopper.placed_bad),
                shipped_order_ids=set(warehouse.shipped),
                refunded_order_ids=set(refunder.refunded),
            )
            report = check(snap)
            acu_stats, xc_stats = driver.acumatica.stats(), driver.xcart.stats()
            statuses = driver.ledger.statuses()  # the stack's folder is gone once it closes
        finally:
            shopper.stop.set()
            tap.close()
            supervisor.stop()
    return {
        "options": vars(opts),
        "chaos_seconds": round(chaos_seconds, 1),
        "settle_seconds": round(settle_seconds, 1),
        "load_before": load_before,
        "load_after": load(),
        "kills": len(killer.kills),
        "kills_by_kind": {
            k: sum(1 for x in killer.kills if x.endswith(k)) for k in ("main", "child")
        },
        "restarts": supervisor.restarts,
        "redis_restarted": redis_done,
        "beat_restarted": beat_done,
        "push_replays": {"sent": replayer.sent, "failed": replayer.failed},
        "shipments_created": len(warehouse.shipped),
        "shipment_errors": warehouse.errors[:10],
        "refunds_made": sum(len(v) for v in refunder.refunded.values()),
        "refund_errors": refunder.errors[:10],
        "checkouts_refused": shopper.refused[:10],
        "faults_injected": {
            "acumatica": acu_stats.get("faults_injected"),
            "xcart": xc_stats.get("faults_injected"),
        },
        "invariants": report.as_dict(),
        "ledger": statuses,
        "events": events,
    }


def render(result: dict[str, Any]) -> str:
    inv = result["invariants"]
    lines = [
        f"chaos: {result['options']['orders']} valid + {result['options']['bad']} bad orders, "
        f"{result['chaos_seconds']} s of chaos + {result['settle_seconds']} s to settle",
        f"  kills {result['kills']} {result['kills_by_kind']}, restarts {result['restarts']}, "
        f"redis restarted {result['redis_restarted']}, beat restarted {result['beat_restarted']}",
        f"  push replays {result['push_replays']}, shipments {result['shipments_created']}, "
        f"refunds {result.get('refunds_made', 0)}",
        f"  faults injected {json.dumps(result['faults_injected'])}",
        "  counts:",
        *[f"    {k:<34} {v}" for k, v in inv["counts"].items()],
    ]
    if inv.get("other_dead_letters"):
        lines.append("  other dead letters (not planted bad orders; replayable):")
        lines += [f"    {d}" for d in inv["other_dead_letters"]]
    if inv["violations"]:
        lines.append("  VIOLATIONS:")
        lines += [f"    {v}" for v in inv["violations"]]
    else:
        lines.append("  every invariant holds")
    return "\n".join(lines)
