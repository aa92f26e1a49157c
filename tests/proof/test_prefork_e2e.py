"""Order-to-cash and inventory end to end through worker processes started as ``make worker``
starts them, with polls published by a beat started as ``make beat`` starts it, on each broker:
Redis (the default) and RabbitMQ (``BROKER_URL`` naming a vhost made for the test, as the broker
tests make one; under ``CI=true`` a RabbitMQ that cannot be used fails the test).

The worker and beat command lines are read from the Makefile's ``worker`` and ``beat`` targets
(the ``celery`` entry point of the venv, the default prefork pool), so this test runs what an
operator runs. The shipped templates are used unmodified (settle and sweep times included);
only the poll intervals are set, through the environment: two seconds for the flows a test
drives, an hour for the others (no poll of theirs runs during the test).

Waits are bounded by :data:`FLOW_TIMEOUT`. Under the shipped templates a record reaches its
poll within the interval plus the settle time (a few seconds); one whose change committed after
its poll read that second is caught by the next sweep (``sweep_seconds: 60``). The bound is that
worst case plus room for a loaded two-core machine, so only a broken flow reaches it.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from sync_workers import clients
from sync_workers.ledger import CursorStore
from tests.broker.conftest import vhost  # noqa: F401  (a RabbitMQ vhost per test)
from tests.flows.catalog.conftest import Erp, Store
from tests.flows.order_to_cash.helpers import (
    address,
    checkout,
    ledger_rows,
    linked,
    open_dead_letters,
    sandbox,
    wait_for,
)

ROOT = Path(__file__).resolve().parents[2]
#: The slowest path under the shipped templates (a change left to the next 60 s sweep), plus
#: the interval, the settle time and the runs on a loaded machine.
FLOW_TIMEOUT = 120.0
POLL_SECONDS = "2"
IDLE_POLL_SECONDS = "3600"


def make_command(target: str) -> list[str]:
    """The command of a Makefile target's recipe, with ``$(BIN)`` as this venv's bin."""
    recipe = re.search(
        rf"^{target}:[^\n]*\n\t([^\n]+)", (ROOT / "Makefile").read_text(), re.MULTILINE
    )
    assert recipe, f"no {target} target in the Makefile"
    line = recipe[1].replace("$(BIN)", str(Path(sys.executable).parent))
    assert "$(" not in line, f"unexpanded variable in the {target} recipe: {line}"
    return line.split()


class Processes:
    """The worker and beat of one test, each in a process group of its own, output in files."""

    def __init__(self, logs: Path, env: dict[str, str]) -> None:
        self.logs = logs
        self.env = env
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, target: str) -> None:
        with (self.logs / f"{target}.log").open("wb") as out:
            self.procs[target] = subprocess.Popen(
                make_command(target),
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def log(self, target: str) -> str:
        return (self.logs / f"{target}.log").read_text("utf-8", errors="replace")

    def alive(self) -> None:
        for target, proc in self.procs.items():
            assert proc.poll() is None, f"{target} exited {proc.returncode}:\n{self.log(target)}"

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)  # warm shutdown, as a service manager stops it
        for proc in self.procs.values():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def start_worker_and_beat(tmp_path: Path, flows: tuple[str, ...], **env: str) -> Processes:
    """``make worker`` and ``make beat`` in the test's environment, with ``flows`` polled every
    two seconds and every other flow hourly; ``env`` adds variables."""
    environment = {k: v for k, v in os.environ.items() if not k.endswith("POLL_INTERVAL_SECONDS")}
    environment.update(
        {"POLL_INTERVAL_SECONDS": IDLE_POLL_SECONDS, "PYTHONUNBUFFERED": "1", **env},
        **{f"{flow.upper()}_POLL_INTERVAL_SECONDS": POLL_SECONDS for flow in flows},
    )
    procs = Processes(tmp_path, environment)
    procs.start("worker")
    procs.start("beat")
    return procs


@pytest.fixture(params=["redis", "rabbitmq"])
def broker(request: pytest.FixtureRequest) -> dict[str, str]:
    """The environment that puts the engine's tasks on the broker: Redis needs nothing (the
    broker is ``REDIS_URL``); RabbitMQ's ``BROKER_URL`` names a vhost made for this test."""
    if request.param == "redis":
        return {}
    return {"BROKER_URL": request.getfixturevalue("vhost")}


@pytest.fixture
def processes(sandboxes, clean_ledger, broker: dict[str, str]) -> Iterator[list[Processes]]:
    """Stops what the test started, before the sandboxes, the run's Redis keys and the test's
    RabbitMQ vhost go."""
    started: list[Processes] = []
    yield started
    for procs in started:
        procs.stop()


def pool_children(pid: int) -> int:
    """Live processes whose parent is ``pid`` (Linux ``/proc``)."""
    count = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            count += 1
    return count


def without_user(url: str) -> str:
    """``url`` less its user and password (which the processes' banners show masked)."""
    scheme, rest = url.split("://", 1)
    return f"{scheme}://{rest.rsplit('@', 1)[-1]}"


def assert_ran_as_deployed(
    procs: Processes, flows: tuple[str, ...], broker: dict[str, str]
) -> None:
    """Both processes are still up and on the test's broker, the worker's pool is prefork with its
    children running, and beat sent each flow's polls."""
    procs.alive()
    log = procs.log("worker")
    pool = re.search(r"concurrency: (\d+) \(prefork\)", log)
    assert pool, log[:3000]
    assert pool_children(procs.procs["worker"].pid) == int(pool[1])
    beat = procs.log("beat")
    expected = without_user(broker.get("BROKER_URL", os.environ["REDIS_URL"]))
    assert [without_user(url) for url in re.findall(r"transport: +(\S+)", log)] == [expected]
    assert [without_user(url) for url in re.findall(r"broker -> (\S+)", beat)] == [expected]
    for flow in flows:
        assert f"Sending due task poll-{flow} (tasks.{flow}.poll)" in beat


def confirmed_shipment(order_type: str, order_nbr: str, tracking: list[str]) -> str:
    """A shipment of the whole sales order in Acumatica, confirmed, with its packages."""
    client = clients.acumatica()
    shipment = client.put(
        "Shipment",
        {
            "Type": "Shipment",
            "CustomerID": client.get_by_keys("SalesOrder", order_type, order_nbr)["CustomerID"],
            "WarehouseID": "RETAIL",
            "Details": [{"OrderType": order_type, "OrderNbr": order_nbr}],
            "Packages": [{"TrackingNbr": number} for number in tracking],
        },
    )
    client.invoke_action("Shipment", "ConfirmShipment", {"ShipmentNbr": shipment["ShipmentNbr"]})
    return str(shipment["ShipmentNbr"])


def test_an_order_is_paid_shipped_and_tracked_through_prefork_workers_and_beat(
    sandboxes, broker: dict[str, str], processes: list[Processes], tmp_path: Path
) -> None:
    xcart = sandboxes["xcart"].url
    sandbox(xcart, "config", {"tracking_extension": True})
    procs = start_worker_and_beat(
        tmp_path, ("orders", "shipments"), XCART_TRACKING_ENDPOINT="true", **broker
    )
    processes.append(procs)
    order = checkout(
        xcart,
        {
            "email": "prefork.buyer@example.com",
            "items": [{"sku": "AA-0004", "amount": 2}],
            "billing_address": address("Ines", "Fork", "TX"),
            "payment_method": "Credit Card",
        },
    )
    order_id = str(order["id"])

    key = wait_for(lambda: linked("orders").get(order_id), timeout=FLOW_TIMEOUT, interval=0.5)
    order_type, order_nbr = key.split("/")
    sales_order = clients.acumatica().get_by_keys(
        "SalesOrder", order_type, order_nbr, expand=["Payments"]
    )
    assert sales_order["CustomerOrder"] == order["order_number"]
    assert sales_order["OrderTotal"] == order["total"]
    payments = wait_for(lambda: linked("payments"), timeout=FLOW_TIMEOUT, interval=0.5)
    assert len(payments) == 1
    [payment_ref] = payments.values()
    assert any(p["ReferenceNbr"] in payment_ref for p in sales_order["Payments"]), (
        payment_ref,
        sales_order["Payments"],
    )

    tracking = ["1Z999AA10123456784"]
    shipment_nbr = confirmed_shipment(order_type, order_nbr, tracking)

    def shipped() -> dict | None:
        found = clients.xcart().get_order(int(order_id))
        done = found["shipping_status"]["code"] == "S" and found["tracking_numbers"]
        return found if done else None

    shipped_order = wait_for(shipped, timeout=FLOW_TIMEOUT, interval=0.5)
    assert_ran_as_deployed(procs, ("orders", "shipments"), broker)
    assert [t["value"] for t in shipped_order["tracking_numbers"]] == tracking
    [row] = ledger_rows("shipments", "acumatica_to_xcart")
    assert (row.source_id, row.target_key) == (shipment_nbr, f"{order_id}/{shipment_nbr}")
    assert not open_dead_letters()


def test_a_stock_change_in_acumatica_reaches_the_store_through_prefork_workers_and_beat(
    sandboxes, broker: dict[str, str], processes: list[Processes], tmp_path: Path
) -> None:
    erp, store = Erp(), Store(sandboxes["xcart"].url)
    try:
        product = store.products()["AA-0012"]
        procs = start_worker_and_beat(tmp_path, ("inventory",), **broker)
        processes.append(procs)
        # the first poll records where the ERP's change query stands; a change after it is new
        wait_for(
            lambda: CursorStore().get("inventory", "acumatica_to_xcart"),
            timeout=FLOW_TIMEOUT,
            interval=0.5,
        )
        erp.adjust([("AA-0012", "WHOLESALE", 7)])
        expected = product["amount"] + 7
        assert round(erp.available("AA-0012")) == expected  # the seed has the store in step

        wait_for(
            lambda: store.amount(product["id"]) == expected, timeout=FLOW_TIMEOUT, interval=0.5
        )
        assert_ran_as_deployed(procs, ("inventory",), broker)
    finally:
        erp.close()
        store.http.close()
    assert not open_dead_letters()
