"""``make run`` as a user starts it: every process up and answering, push notifications wired,
and a stock change in the ERP on the store within seconds.

As ``make run`` does, the ledger is migrated (``python -m sync_workers.ledger upgrade``), then
``python -m sync_workers.devrun`` runs as a subprocess. It gets a data directory, a Redis key
prefix and ports of its own (``--sandbox-urls`` puts the sandboxes at the configured URLs
instead of 8091/8092), so it never meets a developer's ``make run`` or another test. The
inventory poll is an hour apart: within a test, only a push notification can move stock.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
import requests

from sync_workers.redis_client import get_redis
from sync_workers.settings import get_settings, load_settings

ROOT = Path(__file__).resolve().parents[2]
FLOWS = {
    "orders": "SalesOrders",
    "customers": "Customers",
    "payments": "Payments",
    "shipments": "Shipments",
    "products": "StockItems",
    "inventory": "ItemAvailability",
}
SERVICES = ("sandboxes", "worker", "beat", "webhooks", "flower", "console")
START_TIMEOUT = 120
#: "A few seconds later": long enough for a process that dies at import to have died.
SETTLE_SECONDS = 5
ENDPOINT = "entity/Default/24.200.001"


@dataclass
class MakeRun:
    proc: subprocess.Popen[bytes]
    env: dict[str, str]
    ports: dict[str, int]
    logs: Path
    up_at: float

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def output(self) -> str:
        return (self.logs / "stdout").read_text(errors="replace")

    def errors(self) -> str:
        return (self.logs / "stderr").read_text(errors="replace")

    def settle(self) -> None:
        time.sleep(max(0.0, self.up_at + SETTLE_SECONDS - time.monotonic()))

    def celery(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "celery", "-A", "sync_workers", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
        )


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _env(data_dir: Path, prefix: str, ports: dict[str, int]) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(
            ("XCART_", "ACUMATICA_", "DATABASE_URL", "WEBHOOK", "SENTRY_", "FLOWER_", "CONSOLE_")
        )
        and not k.endswith("POLL_INTERVAL_SECONDS")
    }
    env.update(
        {
            "DATA_DIR": str(data_dir),
            "REDIS_KEY_PREFIX": prefix,
            "XCART_BASE_URL": f"http://127.0.0.1:{ports['xcart']}",
            "XCART_API_TOKEN": "sandbox-rw",
            "XCART_REQUESTS_PER_MINUTE": "6000",
            "ACUMATICA_BASE_URL": f"http://127.0.0.1:{ports['acumatica']}",
            "ACUMATICA_USERNAME": "admin",
            "ACUMATICA_PASSWORD": "sandbox",
            "ACUMATICA_TENANT": "Company",
            "ACUMATICA_REQUESTS_PER_MINUTE": "6000",
            "WEBHOOKS_PORT": str(ports["webhooks"]),
            "FLOWER_PORT": str(ports["flower"]),
            "CONSOLE_PORT": str(ports["console"]),
            "INVENTORY_POLL_INTERVAL_SECONDS": "3600",
            "LOG_LEVEL": "INFO",
            "LOG_FORMAT": "text",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


@pytest.fixture(scope="module")
def make_run(tmp_path_factory, redis_url) -> Iterator[MakeRun]:
    root = tmp_path_factory.mktemp("make-run")
    names = ("xcart", "acumatica", "webhooks", "flower", "console")
    ports = dict(zip(names, _free_ports(len(names)), strict=True))
    prefix = get_settings().redis_key_prefix + "run:"
    env = _env(root / "data", prefix, ports)
    migrate = subprocess.run(
        [sys.executable, "-m", "sync_workers.ledger", "upgrade"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert migrate.returncode == 0, migrate.stdout + migrate.stderr
    with (root / "stdout").open("wb") as out, (root / "stderr").open("wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "sync_workers.devrun", "--sandbox-urls"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=err,
        )
    running = MakeRun(proc, env, ports, root, up_at=0.0)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while "sync_workers is running" not in running.output():
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(
                    f"make run did not come up (exit {proc.poll()}):\n"
                    f"{running.output()[-3000:]}\n{running.errors()[-5000:]}",
                    pytrace=False,
                )
            time.sleep(0.2)
        running.up_at = time.monotonic()
        yield running
    finally:
        proc.send_signal(signal.SIGINT)  # Ctrl-C
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        client = redis.Redis.from_url(redis_url)
        keys = list(client.scan_iter(match=prefix + "*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()


def _live_children(pid: int) -> int:
    """Processes whose parent is ``pid`` and that are not zombies (Linux ``/proc``)."""
    count = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        state, parent = fields[0], int(fields[1])
        if parent == pid and state != "Z":
            count += 1
    return count


def _receiver_secret(make_run: MakeRun) -> str:
    """The secret in the environment of the receiver devrun started (read from ``/proc``)."""
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            variables = dict(
                item.split("=", 1) for item in environ.read_text().split("\0") if "=" in item
            )
        except OSError:
            continue
        if variables.get("WEBHOOKS_PORT") == str(make_run.ports["webhooks"]) and variables.get(
            "WEBHOOK_ACUMATICA_SECRET"
        ):
            return variables["WEBHOOK_ACUMATICA_SECRET"]
    raise AssertionError("no process has the receiver's secret in its environment")


def _ping_worker(make_run: MakeRun) -> list[dict]:
    from celery import Celery

    from sync_workers.celery import celery_config

    app = Celery("make-run-ping")
    app.conf.update(celery_config(load_settings(make_run.env)))
    replies: list[dict] = []
    deadline = time.monotonic() + 15
    try:
        while not replies and time.monotonic() < deadline:
            replies = app.control.ping(timeout=1.0)
        return replies
    finally:
        app.close()


def test_every_process_of_make_run_is_alive_and_answering(make_run: MakeRun) -> None:
    make_run.settle()

    assert make_run.proc.poll() is None, make_run.errors()[-5000:]
    assert "exited with code" not in make_run.errors(), make_run.errors()[-5000:]
    assert _live_children(make_run.proc.pid) == len(SERVICES)
    health = requests.get(f"{make_run.url('webhooks')}/healthz", timeout=5)
    assert (health.status_code, health.json()) == (200, {"status": "ok"})
    assert requests.get(f"{make_run.url('flower')}/healthcheck", timeout=5).text == "OK"
    console = requests.get(f"{make_run.url('console')}/healthz", timeout=5)
    assert (console.status_code, console.json()) == (200, {"status": "ok"})
    shown = re.search(
        rf"  console    {re.escape(make_run.url('console'))} \(sign in as admin / (\S+):",
        make_run.output(),
    )
    assert shown, "the banner shows no console URL with its operator"
    password = shown[1]  # made for this run: shown once, in no process's log
    assert make_run.output().count(password) == 1 and password not in make_run.errors()
    browser = requests.Session()
    form = browser.get(f"{make_run.url('console')}/login", timeout=5).text
    token = re.search(r'name="signin_token" value="([^"]+)"', form)
    assert token, "no sign-in form"
    signed_in = browser.post(
        f"{make_run.url('console')}/login",
        data={"signin_token": token[1], "name": "admin", "password": password},
        allow_redirects=False,
        timeout=5,
    )
    assert signed_in.status_code == 302
    products = requests.get(
        f"{make_run.url('xcart')}/api/products",
        params={"itemsPerPage": 1},
        headers={"X-Auth-Token": "sandbox-rw"},
        timeout=5,
    )
    assert products.status_code == 200 and len(products.json()) == 1
    acumatica = requests.get(f"{make_run.url('acumatica')}/entity", timeout=5)
    assert acumatica.status_code == 200
    assert _ping_worker(make_run), "the worker does not answer a Celery ping"
    beat_lock = make_run.env["REDIS_KEY_PREFIX"] + "redbeat::lock"
    assert get_redis().exists(beat_lock), "beat holds no RedBeat lock"
    for service in SERVICES:
        assert re.search(rf"^  {service}\s", make_run.output(), re.MULTILINE)


def test_make_run_subscribes_the_receiver_to_every_flows_push_notifications(
    make_run: MakeRun,
) -> None:
    receiver = make_run.url("webhooks")

    answer = requests.get(f"{make_run.url('acumatica')}/_sandbox/push", timeout=5)

    subscriptions = {s["url"]: s for s in answer.json()["subscriptions"]}
    assert set(subscriptions) == {f"{receiver}/webhooks/acumatica/{flow}" for flow in FLOWS}
    for flow, query in FLOWS.items():
        subscription = subscriptions[f"{receiver}/webhooks/acumatica/{flow}"]
        assert subscription["queries"] == [query]
        assert subscription["header_name"] == "X-Sync-Secret"
        assert subscription["header_value"] == "***"  # set (the sandbox masks it)
        assert subscription["active"] is True
    banner = next(line for line in make_run.output().splitlines() if line.startswith("  push "))
    assert "on," in banner and all(f"{flow} ({query})" in banner for flow, query in FLOWS.items())
    secret = _receiver_secret(make_run)
    assert len(secret) >= 32
    assert secret not in make_run.output() + make_run.errors()
    refused = requests.post(
        f"{receiver}/webhooks/acumatica/inventory",
        json={"Id": "x", "Inserted": []},
        headers={"X-Sync-Secret": "not-the-secret"},
        timeout=5,
    )
    assert refused.status_code == 401


def _acumatica_session(make_run: MakeRun) -> requests.Session:
    http = requests.Session()
    login = http.post(
        f"{make_run.url('acumatica')}/entity/auth/login",
        json={"name": "admin", "password": "sandbox", "company": "Company"},
        timeout=10,
    )
    assert login.status_code == 204, login.text
    return http


def _wait_for_action(http: requests.Session, answer: requests.Response) -> None:
    """An action answers 204 when done, or 202 with a status URL to follow until 204."""
    deadline = time.monotonic() + 30
    while answer.status_code == 202 and time.monotonic() < deadline:
        time.sleep(0.05)
        answer = http.get(answer.headers["Location"], timeout=10)
    assert answer.status_code == 204, answer.text


def _erp_available(http: requests.Session, make_run: MakeRun, sku: str) -> int:
    answer = http.put(
        f"{make_run.url('acumatica')}/{ENDPOINT}/InventorySummaryInquiry",
        params={"$expand": "Results"},
        json={"InventoryID": {"value": sku}},
        timeout=10,
    )
    answer.raise_for_status()
    return round(sum(row["QtyAvailable"]["value"] for row in answer.json()["Results"]))


def test_a_stock_release_in_acumatica_reaches_the_store_by_push(make_run: MakeRun) -> None:
    xcart = requests.Session()
    xcart.headers["X-Auth-Token"] = "sandbox-rw"
    product = xcart.get(
        f"{make_run.url('xcart')}/api/products", params={"itemsPerPage": 10}, timeout=10
    ).json()[-1]
    sku, product_url = product["sku"], f"{make_run.url('xcart')}/api/products/{product['id']}"
    http = _acumatica_session(make_run)
    try:
        adjustment = http.put(
            f"{make_run.url('acumatica')}/{ENDPOINT}/InventoryAdjustment",
            json={
                "Hold": {"value": False},
                "Details": [
                    {
                        "InventoryID": {"value": sku},
                        "WarehouseID": {"value": "WHOLESALE"},
                        "Qty": {"value": 3},
                    }
                ],
            },
            timeout=10,
        )
        adjustment.raise_for_status()
        released_at = time.monotonic()
        release = http.post(
            f"{make_run.url('acumatica')}/{ENDPOINT}/InventoryAdjustment/ReleaseAdjustment",
            json={"entity": {"ReferenceNbr": adjustment.json()["ReferenceNbr"]}},
            timeout=10,
        )
        _wait_for_action(http, release)
        expected = _erp_available(http, make_run, sku)
    finally:
        http.post(f"{make_run.url('acumatica')}/entity/auth/logout", timeout=10)
    assert expected == product["amount"] + 3  # the seed data have the store in step with the ERP

    amount, latency = None, None
    while time.monotonic() - released_at < 30:  # the next inventory poll is an hour away
        amount = xcart.get(product_url, timeout=10).json()["amount"]
        if amount == expected:
            latency = time.monotonic() - released_at
            break
        time.sleep(0.02)

    assert amount == expected, make_run.errors()[-5000:]
    print(f"\nstock release -> X-Cart amount under make run: {latency:.2f}s")
    deliveries = requests.get(f"{make_run.url('acumatica')}/_sandbox/push/log", timeout=5).json()
    assert any(
        d["subscription"] == "sync_workers-inventory" and d["ok"] for d in deliveries["deliveries"]
    )
    status = make_run.celery("sync-status", "--json")
    flows = {f["flow"]: f for f in json.loads(status.stdout)["flows"]}
    assert flows["inventory"]["last_push_at"] is not None, status.stderr
    assert flows["inventory"]["last_run"] is None  # no poll ran: the push carried the change
    table = make_run.celery("sync-status").stdout.splitlines()
    assert table[0].split()[:5] == ["FLOW", "LAST", "POLL", "LAST", "PUSH"]
    inventory = next(line for line in table if line.startswith("inventory "))
    assert re.match(r"inventory\s+never\s+\d+s ago\s", inventory), inventory
