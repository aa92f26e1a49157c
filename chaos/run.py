"""One chaos run: the engine under kills, a Redis restart, a beat restart, API faults and
replayed push notifications (and, with ``hosts``, workers on separate hosts that get cut off),
then the invariants from the systems' own data."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench.engine import Driver
from bench.measure import load
from bench.processes import Proc, port_open, wait_until
from bench.sandbox import Acumatica
from bench.stack import REPO, WEBHOOK_SECRET, Stack
from chaos import readback
from chaos.hosts import Hosts, Partitioner
from chaos.invariants import check
from chaos.pushes import Replayer, Tap
from chaos.scenario import Refunder, Registrar, Shopper, Warehouse, fault_config
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
    #: Workers on this many hosts (network namespaces), round-robin; 0: all on this one.
    hosts: int = 0
    #: One host is cut off for ``partition_seconds`` every ``partition_every`` s (0: never).
    partition_every: float = 0.0
    partition_seconds: float = 0.0
    partition_mode: str = "drop"
    #: Customers created in Acumatica during the run (``chaos.scenario.Registrar``).
    erp_customers: int = 6


def engine_env() -> dict[str, str]:
    return {
        "ORDERS_POLL_INTERVAL_SECONDS": "2",
        "SHIPMENTS_POLL_INTERVAL_SECONDS": "5",
        "PAYMENTS_POLL_INTERVAL_SECONDS": "120",
        "INVENTORY_POLL_INTERVAL_SECONDS": "600",
        "CUSTOMERS_POLL_INTERVAL_SECONDS": "5",
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
        ("customers", f"{receiver}/customers", ["Customers"]),
        ("tap-shipments", f"http://127.0.0.1:{tap.port}/shipments", ["Shipments"]),
        ("tap-inventory", f"http://127.0.0.1:{tap.port}/inventory", ["ItemAvailability"]),
    ]
    for name, url, queries in subs:
        driver.acumatica.post(
            "push",
            {"name": name, "url": url, "queries": queries, "header_name": HEADER,
             "header_value": WEBHOOK_SECRET},
        )  # fmt: skip


def converged(
    driver: Driver,
    shopper: Shopper,
    warehouse: Warehouse,
    refunder: Refunder,
    registrar: Registrar | None = None,
) -> bool:
    if registrar is not None and not registrar.settled():
        return False
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


def poll_once(driver: Driver, task: str) -> tuple[dict[str, int], dict[str, int]]:
    """Runs one ``task`` poll with beat stopped and the engine quiet. Returns the customer
    writes (profile writes, ``PUT Customer``) both sandboxes saw meanwhile, and the profile
    writes per profile id."""

    def by_path() -> tuple[dict[str, int], dict[str, int]]:
        return (
            driver.xcart.stats()["requests"]["by_path"],
            driver.acumatica.stats()["requests"]["by_path"],
        )

    xcart_before, erp_before = by_path()
    reads_before = sum(erp_before.values())
    driver.send(task)
    wait_until(
        lambda: sum(driver.acumatica.stats()["requests"]["by_path"].values()) > reads_before,
        120,
        "the customers poll's first read",
    )
    driver.quiet(still=5.0, timeout=300)
    xcart_after, erp_after = by_path()
    before = readback.engine_customer_writes(xcart_before, erp_before)
    after = readback.engine_customer_writes(xcart_after, erp_after)
    per_profile_before = readback.profile_writes(xcart_before)
    per_profile = {
        p: n - per_profile_before.get(p, 0)
        for p, n in readback.profile_writes(xcart_after).items()
        if n != per_profile_before.get(p, 0)
    }
    return {name: after[name] - before[name] for name in after}, per_profile


def start_relay(stack: Stack, hosts: Hosts) -> Proc:
    """``chaos.relay`` on every host's root-side address, for each service URL of the stack."""
    listen = hosts.listeners(stack.env)
    argv = stack.python("-m", "chaos.relay", *[f"{addr}:{port}" for addr, port in listen])
    proc = stack.group.add(Proc("relay", argv, stack.env, stack.root / "logs" / "relay.log", REPO))
    wait_until(lambda: all(port_open(port, addr) for addr, port in listen), 30, "relay")
    return proc


def worker_starter(stack: Stack, hosts: Hosts | None, concurrency: int) -> Callable[[int], Proc]:
    """Starts worker ``i`` on host ``i`` modulo the hosts (on this one without hosts)."""

    def start(index: int) -> Proc:
        if hosts is None:
            return stack.start_worker(index, concurrency)
        host = hosts.hosts[index % len(hosts.hosts)]
        proc = Proc(
            f"worker{index}",
            hosts.wrap(host, stack.worker_argv(index, concurrency)),
            hosts.env_for(host, stack.env),
            stack.root / "logs" / f"worker{index}.log",
            REPO,
        )
        stack.group.add(proc)
        stack.workers.append(proc)
        return proc

    return start


def run(opts: Options) -> dict[str, Any]:
    events: list[str] = []

    def log(message: str) -> None:
        line = f"[{time.strftime('%H:%M:%S')}] {message}"
        events.append(line)
        print(line, flush=True)

    with contextlib.ExitStack() as exits:
        # Entered first, left last: the namespaces go after every process in them stopped.
        hosts = (
            exits.enter_context(Hosts(opts.hosts, opts.partition_mode, log)) if opts.hosts else None
        )
        stack = exits.enter_context(
            Stack(
                name="chaos",
                keep=opts.keep,
                redis_persistence=True,
                extra_env=engine_env(),
                broker=opts.broker,
            )
        )
        return _run(opts, stack, hosts, log, events)


def _run(
    opts: Options,
    stack: Stack,
    hosts: Hosts | None,
    log: Callable[[str], None],
    events: list[str],
) -> dict[str, Any]:
    if hosts is not None:
        start_relay(stack, hosts)
    stack.start_redis()
    if hosts is not None:
        hosts.bind_redis(stack.redis_port)
    stack.start_sandboxes()
    stack.migrate()
    stack.apply_env()
    driver = Driver(stack, seed=opts.seed)
    driver.raise_stock()
    driver.xcart.post("config", {"tracking_extension": True})
    tap = Tap()
    subscribe(driver, stack, tap)
    stack.start_webhooks()
    erp = Acumatica(stack.env["ACUMATICA_BASE_URL"])
    registrar = Registrar(
        driver, erp, opts.erp_customers, readback.store_logins(stack.env["XCART_BASE_URL"])
    )
    registrar.create_existing()
    supervisor = Supervisor(worker_starter(stack, hosts, opts.concurrency), log=log)
    supervisor.launch(opts.workers)
    driver.wait_workers(opts.workers)
    workers_at = {p.name: hosts.host_of(p.pid) for p in supervisor.slots} if hosts else {}
    stack.start_beat()
    killer = Killer(supervisor, opts.kill_every, log=log)
    partitioner = (
        Partitioner(
            hosts,
            opts.partition_every,
            opts.partition_seconds,
            log=log,
            probe_port=stack.redis_port,
        )
        if hosts is not None and opts.partition_every > 0 and opts.partition_seconds > 0
        else None
    )
    replayer = Replayer(tap, f"http://127.0.0.1:{stack.webhooks_port}", HEADER, WEBHOOK_SECRET)
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
                window = max(2 * opts.kill_every, 30.0)
                if partitioner is not None:  # time for a whole partition after the orders
                    cycle = opts.partition_every + opts.partition_seconds + 5
                    window = max(window, cycle) if opts.kill_every > 0 else cycle
                chaos_until = now + window
                log(f"all orders placed ({len(shopper.placed_valid)} valid, "
                    f"{len(shopper.placed_bad)} bad, {len(shopper.refused)} refused)")  # fmt: skip
            cutting = partitioner is not None and partitioner.current is not None
            if chaos_until is not None and now > chaos_until and not cutting:
                break  # a partition under way runs its full length
            if opts.kill_every > 0:
                killer.tick(now)
            if partitioner is not None:
                partitioner.tick(now)
            if not redis_done and now >= redis_at:
                log("chaos: restarting Redis (AOF on)")
                stack.restart_redis()
                if hosts is not None:
                    hosts.bind_redis(stack.redis_port)
                redis_done = True
            if not beat_done and now >= beat_at:
                log("chaos: restarting beat")
                stack.stop_beat()
                stack.start_beat()
                beat_done = True
            if now - last_ship > 5:
                warehouse.tick()
                refunder.tick()
                registrar.tick()
                last_ship = now
            if now - last_replay > 3:
                replayer.tick()
                last_replay = now
            time.sleep(0.5)
        chaos_seconds = time.monotonic() - started
        if partitioner is not None:
            partitioner.stop(time.monotonic())
        for control in (driver.xcart, driver.acumatica):
            control.faults({})
        log("chaos over: faults off, no more kills or partitions; waiting for the engine to settle")
        settle_started = time.monotonic()
        while time.monotonic() - settle_started < opts.settle_timeout:
            supervisor.check()
            if time.monotonic() - last_ship > 5:
                warehouse.tick()
                refunder.tick()
                registrar.tick()
                last_ship = time.monotonic()
                replayer.tick()
            if converged(driver, shopper, warehouse, refunder, registrar) and not warehouse.tick():
                break
            time.sleep(1.0)
        settle_seconds = time.monotonic() - settle_started
        replayer.tick()
        time.sleep(3.0)
        stack.stop_beat()  # polls never stop on their own: quiet needs beat gone
        driver.quiet(still=5.0, timeout=300)
        log("one more customers poll: it must write nothing")
        modified_before = readback.customer_modified(erp, set(registrar.made))
        all_after_settle, profiles_after_settle = poll_once(driver, "tasks.customers.poll")
        log("reading both systems, the ledger and the dead-letter queue")
        erp.close()  # its seat: the readback signs in with its own
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
        facts = readback.customer_facts(
            xcart_url=stack.env["XCART_BASE_URL"],
            acumatica_url=stack.env["ACUMATICA_BASE_URL"],
            ledger=driver.ledger,
            made=dict(registrar.made),
            xcart_by_path=driver.xcart.stats()["requests"]["by_path"],
        )
        for name, value in facts.items():
            setattr(snap, name, value)
        linked_profiles = {p for found in snap.customer_links.values() for p in found}
        snap.writes_after_settle = {
            "their_profile_writes": sum(profiles_after_settle.get(p, 0) for p in linked_profiles),
            "their_customer_writes": sum(
                1 for c, at in modified_before.items() if snap.erp_modified.get(c) != at
            ),
        }
        made_profile_writes = sum(snap.profile_writes.get(p, 0) for p in linked_profiles)
        report = check(snap)
        acu_stats, xc_stats = driver.acumatica.stats(), driver.xcart.stats()
        statuses = driver.ledger.statuses()  # the stack's folder is gone once it closes
    finally:
        shopper.stop.set()
        tap.close()
        if hosts is not None:
            hosts.heal_all()  # workers on a cut-off host could not finish their shutdown
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
        "erp_customers_made": len(registrar.made),
        "erp_customer_edits": sum(c.edits for c in registrar.made.values()),
        "erp_customer_errors": registrar.errors[:10],
        "erp_customer_profile_writes": made_profile_writes,
        "customer_writes_on_poll_after_settle": snap.writes_after_settle,
        # every customer and profile, the order buyers' too (for the reader; not an invariant)
        "all_customer_writes_on_poll_after_settle": all_after_settle,
        "checkouts_refused": shopper.refused[:10],
        "faults_injected": {
            "acumatica": acu_stats.get("faults_injected"),
            "xcart": xc_stats.get("faults_injected"),
        },
        "hosts": {
            "count": opts.hosts,
            "mode": opts.partition_mode,
            "workers": workers_at,
            "partitions": partitioner.partitions if partitioner else [],
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
        f"refunds {result.get('refunds_made', 0)}, "
        f"ERP customers {result.get('erp_customers_made', 0)} "
        f"({result.get('erp_customer_edits', 0)} edits, "
        f"{result.get('erp_customer_profile_writes', 0)} writes on their profiles); "
        f"writes on one more customers poll {result.get('all_customer_writes_on_poll_after_settle')}",
        f"  faults injected {json.dumps(result['faults_injected'])}",
        *_render_hosts(result),
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


def _render_hosts(result: dict[str, Any]) -> list[str]:
    hosts = result.get("hosts") or {}
    if not hosts.get("count"):
        return []
    cuts = ", ".join(
        f"host {p['host']} at {p['at_seconds']} s for {p['seconds']} s"
        + ("" if p["cut_seen"] is None else f" (cut seen {p['cut_seen']}, back {p['back_seen']})")
        for p in hosts["partitions"]
    )
    placed = ", ".join(f"{w} on {netns}" for w, netns in hosts.get("workers", {}).items())
    return [
        f"  hosts {hosts['count']} ({placed})",
        f"  partitions ({hosts['mode']}): {cuts or 'none'}",
    ]
