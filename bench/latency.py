"""Figure 4: latency with beat and push notifications, as in production.

Order lag: beat polls orders every ``poll_interval`` seconds; shoppers check out at random
moments (exponential gaps); lag = the ledger's sync time of the order minus the moment the
checkout answered (both clocks are this machine's). Stock push: a released Acumatica adjustment
of +3 on one SKU at a time; lag = until the X-Cart product shows the new amount.
"""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime
from typing import Any

from bench.engine import Driver
from bench.measure import api_calls, call_pattern, diff, load, summary
from bench.sandbox import Acumatica
from bench.stack import WEBHOOK_SECRET, Stack

STOCK_SKUS = 30
SLOW = "3600"


def order_lag(driver: Driver, *, seconds: float, rate: float, buyers: int) -> dict[str, Any]:
    rng = random.Random(7)
    placed: dict[str, float] = {}
    load_before = load()
    end = time.monotonic() + seconds
    n = driver.placed
    while time.monotonic() < end:
        body_order = driver.place(1, buyers=buyers, offset=n)[0]
        placed[str(body_order["id"])] = time.time()
        n += 1
        time.sleep(rng.expovariate(rate))
    deadline = time.monotonic() + 60
    rows: dict[str, float] = {}
    while time.monotonic() < deadline:
        rows = {
            source: _epoch(updated)
            for source, key, _status, updated in driver.ledger.rows("orders")
            if key and source in placed
        }
        if len(rows) == len(placed):
            break
        time.sleep(0.5)
    lags = [rows[s] - placed[s] for s in placed if s in rows]
    return {
        "orders": len(placed),
        "synced": len(lags),
        "lag_seconds": summary(lags) if lags else None,
        "load_before": load_before,
        "load_after": load(),
    }


def _epoch(value: str) -> float:
    moment = datetime.fromisoformat(str(value))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def stock_push(driver: Driver, skus: list[str], acumatica_url: str) -> dict[str, Any]:
    products = {}
    for row in (
        driver.store.http.get(
            f"{driver.store.base_url}/api/products",
            params={"itemsPerPage": 100, "page": 1},
            timeout=30,
        ).json()
        + driver.store.http.get(
            f"{driver.store.base_url}/api/products",
            params={"itemsPerPage": 100, "page": 2},
            timeout=30,
        ).json()
    ):
        products[row["sku"]] = row["id"]
    xc_before = driver.xcart.stats()["requests"]["by_path"]
    ac_before = driver.acumatica.stats()["requests"]["by_path"]
    lags, missed = [], []
    load_before = load()
    with Acumatica(acumatica_url) as erp:
        for sku in skus:
            pid = products[sku]
            before = _amount(driver, pid)
            doc = erp.http.put(
                f"{acumatica_url}/entity/Default/24.200.001/InventoryAdjustment",
                json={"Hold": {"value": False}, "Details": [
                    {"InventoryID": {"value": sku}, "WarehouseID": {"value": "WHOLESALE"},
                     "Qty": {"value": 3}}]},
                timeout=30,
            )  # fmt: skip
            doc.raise_for_status()
            ref = doc.json()["ReferenceNbr"]["value"]
            started = time.monotonic()
            erp.http.post(
                f"{acumatica_url}/entity/Default/24.200.001/InventoryAdjustment/ReleaseAdjustment",
                json={"entity": {"ReferenceNbr": {"value": ref}}},
                timeout=30,
            ).raise_for_status()
            while time.monotonic() - started < 20:
                if _amount(driver, pid) == before + 3:
                    lags.append(time.monotonic() - started)
                    break
                time.sleep(0.02)
            else:
                missed.append(sku)
            time.sleep(0.3)
    driver.quiet(still=2.0)
    xc = diff(driver.xcart.stats()["requests"]["by_path"], xc_before)
    ac = diff(driver.acumatica.stats()["requests"]["by_path"], ac_before)
    harness_xcart = sum(v for k, v in xc.items() if k.startswith("GET /api/products/"))
    harness_acu = 2 * len(skus)  # our own PUT adjustment + release
    return {
        "changes": len(skus),
        "reached": len(lags),
        "missed": missed,
        "lag_seconds": summary(lags, (50, 95)) if lags else None,
        "engine_calls_per_change": {
            "xcart": round((api_calls(xc) - harness_xcart) / len(skus), 2),
            "acumatica": round((api_calls(ac) - harness_acu) / len(skus), 2),
            "note": "harness reads of the product polled during the wait are excluded",
        },
        "load_before": load_before,
        "load_after": load(),
    }


def _amount(driver: Driver, product_id: int) -> int:
    answer = driver.store.http.get(f"{driver.store.base_url}/api/products/{product_id}", timeout=30)
    return int(answer.json()["amount"])


def shipped_poll_interval() -> float:
    """``POLL_INTERVAL_SECONDS``'s default: every poll's interval in a deployment that leaves it."""
    from sync_workers.settings import VARIABLES

    return float(next(v.default for v in VARIABLES if v.name == "POLL_INTERVAL_SECONDS") or 30)


def bundled_orders_settle() -> float:
    """``poll.settle_seconds`` of the bundled orders template (what a deployment runs with)."""
    import yaml

    from sync_workers.mapping.templates import BUNDLED_DIR

    text = (BUNDLED_DIR / "orders.yaml").read_text(encoding="utf-8")
    return float((yaml.safe_load(text).get("poll") or {}).get("settle_seconds", 2))


IDLE_FLOWS = ("orders", "payments", "shipments", "inventory", "customers", "products")
#: Pause before each round: longer than any poll's settle time (customers: 5 s), so what the
#: previous round wrote (and its echo in the source system) is behind the next window.
IDLE_GAP_SECONDS = 6.0


def idle_polls(driver: Driver, rounds: int = 3) -> dict[str, Any]:
    """Each flow's poll run alone ``rounds`` times with nothing new; the calls of each round.

    Beat is stopped first; each round waits until the queues are drained, both APIs quiet and
    ``IDLE_GAP_SECONDS`` passed. A round notes the cursors that swept (re-read their overlap
    window, once in a template's ``sweep_seconds``): what such a poll costs grows with the
    records of the last minutes, what the others cost does not.
    See :func:`idle_figures` for the published figures; every round is in the JSON.
    """
    found: dict[str, Any] = {}
    for flow in IDLE_FLOWS:
        per_round = []
        for _ in range(rounds):
            driver.drained()
            time.sleep(IDLE_GAP_SECONDS)
            xcart_before, acu_before = driver.calls()
            sweeps_before = driver.ledger.sweeps()
            driver.send(f"tasks.{flow}.poll")
            time.sleep(1.0)
            driver.drained()
            xcart_after, acu_after = driver.calls()
            sweeps_after = driver.ledger.sweeps()
            xc, ac = diff(xcart_after, xcart_before), diff(acu_after, acu_before)
            per_round.append(
                {
                    "xcart": api_calls(xc),
                    "acumatica": api_calls(ac),
                    "pattern": dict(call_pattern({**xc, **ac})),
                    # A cursor's first poll reads everything there is: not an idle poll.
                    "first": sorted(set(sweeps_after) - set(sweeps_before)),
                    "swept": sorted(
                        name
                        for name, swept in sweeps_after.items()
                        if name in sweeps_before
                        and swept is not None
                        and swept != sweeps_before[name]
                    ),
                }
            )
        found[flow] = idle_figures(per_round)
    return found


def idle_figures(per_round: list[dict[str, Any]]) -> dict[str, Any]:
    """The published figures of one flow's idle rounds: ``calls``, of the last round that did
    not sweep (of the last round when all did), and ``sweep_calls``, of the last that did
    (``None`` when none did). A round that was a cursor's first poll is neither."""

    def calls(r: dict[str, Any]) -> int:
        return int(r["xcart"]) + int(r["acumatica"])

    rounds = [r for r in per_round if not r.get("first")] or per_round
    plain = [r for r in rounds if not r.get("swept")]
    swept = [r for r in rounds if r.get("swept")]
    return {
        "calls": calls((plain or rounds)[-1]),
        "sweep_calls": calls(swept[-1]) if swept else None,
        "rounds": per_round,
    }


def run(
    *,
    poll_interval: float | None,
    seconds: float,
    rate: float,
    buyers: int = 20,
    orders_settle: float | None = None,
) -> dict:
    """``poll_interval`` None: every poll as shipped (each at ``POLL_INTERVAL_SECONDS``'s
    default, beside the orders poll); else the orders poll at that interval and the others
    slowed out of the way."""
    env: dict[str, str] = {}
    if poll_interval is not None:
        env = {
            "POLL_INTERVAL_SECONDS": SLOW,
            "ORDERS_POLL_INTERVAL_SECONDS": str(poll_interval),
            "PAYMENTS_POLL_INTERVAL_SECONDS": SLOW,
        }
    shipped = poll_interval is None
    poll_interval = shipped_poll_interval() if poll_interval is None else poll_interval
    with Stack(name="bench-latency", extra_env=env, orders_settle=orders_settle) as stack:
        stack.start_redis()
        stack.start_sandboxes()
        stack.migrate()
        stack.apply_env()
        driver = Driver(stack)
        stock_skus = driver.skus[-STOCK_SKUS:]
        driver.skus = driver.skus[:-STOCK_SKUS]
        driver.acumatica.post(
            "push",
            {
                "name": "inventory",
                "url": f"http://127.0.0.1:{stack.webhooks_port}/webhooks/acumatica/inventory",
                "queries": ["ItemAvailability"],
                "header_name": "X-Sync-Secret",
                "header_value": WEBHOOK_SECRET,
            },
        )
        stack.start_webhooks()
        stack.start_worker(0, 4)
        driver.wait_workers(1)
        stack.start_beat()
        # Buyers known first (their first orders create the customers).
        driver.place(buyers, buyers=buyers)
        deadline = time.monotonic() + 120
        while driver.ledger.linked("orders") < buyers and time.monotonic() < deadline:
            time.sleep(0.5)
        orders = order_lag(driver, seconds=seconds, rate=rate, buyers=buyers)
        orders["poll_interval_seconds"] = poll_interval
        orders["polls_as_shipped"] = shipped
        orders["orders_settle_seconds"] = (
            bundled_orders_settle() if orders_settle is None else orders_settle
        )
        stock = stock_push(driver, stock_skus, stack.env["ACUMATICA_BASE_URL"])
        stack.stop_beat()
        idle = idle_polls(driver)
        return {"orders": orders, "stock": stock, "idle_poll": idle}
