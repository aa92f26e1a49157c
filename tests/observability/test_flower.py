"""Flower: authentication required off loopback, credentials never on the command line,
queue lengths visible, read-only unless asked, and no customer data on its pages or its API."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from sync_workers.celery import app as celery_app
from sync_workers.observability.flower import FlowerRefused, flower_command, is_loopback
from sync_workers.settings import load_settings
from tests.observability import sentry_tasks
from tests.observability.test_sentry import PERSONAL, customer
from tests.observability.test_task_reprs import order

ROOT = Path(__file__).resolve().parents[2]
CREDENTIALS = ("ops", "flower-test-password")


def settings(**env: str):
    return load_settings({**os.environ, **env})


def test_loopback_addresses_are_recognised() -> None:
    assert all(is_loopback(a) for a in ("127.0.0.1", "127.8.0.1", "::1", "[::1]", "localhost"))
    assert not any(is_loopback(a) for a in ("0.0.0.0", "10.0.0.5", "flower.internal", "::"))


def test_flower_off_loopback_without_credentials_refuses_to_start() -> None:
    with pytest.raises(FlowerRefused, match="FLOWER_BASIC_AUTH"):
        flower_command(settings(FLOWER_ADDRESS="0.0.0.0"))


def test_credentials_go_through_the_environment_not_argv() -> None:
    argv, env = flower_command(
        settings(
            FLOWER_ADDRESS="0.0.0.0", FLOWER_BASIC_AUTH="ops:s3cret-pw-123", FLOWER_PORT="5599"
        )
    )

    assert "s3cret-pw-123" not in " ".join(argv)
    assert env["FLOWER_BASIC_AUTH"] == "ops:s3cret-pw-123"
    assert (env["FLOWER_ADDRESS"], env["FLOWER_PORT"]) == ("0.0.0.0", "5599")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_running_flower_asks_for_credentials_and_shows_queue_lengths(redis_client) -> None:
    port = _free_port()
    for n in range(2):
        celery_app.send_task("tasks.orders.poll", kwargs={"ids": [str(n)]})
    env = {**os.environ, "FLOWER_PORT": str(port), "FLOWER_BASIC_AUTH": "ops:pw-for-a-test"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "sync_workers.observability.flower"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            try:
                requests.get(base + "/healthcheck", timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.3)
        anonymous = requests.get(base + "/api/queues/length", timeout=10)
        lengths = requests.get(
            base + "/api/queues/length", auth=("ops", "pw-for-a-test"), timeout=10
        )
    finally:
        proc.terminate()
        proc.wait(timeout=20)

    assert anonymous.status_code == 401
    assert lengths.status_code == 200
    queues = {q["name"]: q["messages"] for q in lengths.json()["active_queues"]}
    assert queues["orders"] == 2


def test_flower_is_read_only_unless_asked_and_operations_need_credentials() -> None:
    _, env = flower_command(settings(), environ={})
    assert env["FLOWER_READ_ONLY"] == "true"

    with pytest.raises(FlowerRefused, match="FLOWER_BASIC_AUTH"):
        flower_command(settings(), environ={"FLOWER_READ_ONLY": "false"})
    with pytest.raises(FlowerRefused, match="FLOWER_READ_ONLY"):
        flower_command(settings(), environ={"FLOWER_READ_ONLY": "sometimes"})

    _, env = flower_command(
        settings(FLOWER_BASIC_AUTH=":".join(CREDENTIALS)), environ={"FLOWER_READ_ONLY": "no"}
    )
    assert env["FLOWER_READ_ONLY"] == "false"


def _start(argv: list[str], **env: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        argv,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _until(condition, timeout: float = 40.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = condition()
        except requests.ConnectionError:
            value = None
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"condition not met within {timeout}s")


@pytest.fixture
def flower_and_worker(redis_client):
    """Flower (read-only, with credentials) and a worker sending task events, as processes."""
    port = _free_port()
    worker_name = f"flower-{os.getpid()}@localhost"
    flower = _start(
        [sys.executable, "-m", "sync_workers.observability.flower"],
        FLOWER_PORT=str(port),
        FLOWER_BASIC_AUTH=":".join(CREDENTIALS),
    )
    base = f"http://127.0.0.1:{port}"
    worker = None
    try:
        _until(lambda: requests.get(base + "/healthcheck", timeout=1).ok)
        worker = _start(
            [
                sys.executable, "-m", "celery", "-A", "sync_workers", "worker",
                "-P", "prefork", "-c", "1", "-Q", "orders,customers",
                "-I", "tests.observability.sentry_tasks",
                "--without-gossip", "--without-mingle", "-n", worker_name,
            ],
            TASK_EVENTS="true",
        )  # fmt: skip
        _until(lambda: worker_name in _api(base, "/api/workers?refresh=1"))
        yield base, worker_name, worker
    finally:
        if worker is not None:
            _stop(worker)
        _stop(flower)


def _api(base: str, path: str) -> dict:
    answer = requests.get(base + path, auth=CREDENTIALS, timeout=10)
    answer.raise_for_status()
    return dict(answer.json())


def test_flower_shows_ids_not_customer_data_and_refuses_operations(flower_and_worker) -> None:
    base, worker_name, worker = flower_and_worker
    celery_app.conf.task_send_sent_event = True  # the publisher's own event carries the reprs too
    try:
        held = celery_app.send_task(
            "tasks.orders.sync", kwargs={"record_id": "flower-1", "order": order()}, countdown=600
        )
    finally:
        celery_app.conf.task_send_sent_event = False
    failed = sentry_tasks.reject_customer.apply_async(
        kwargs={"record_id": "flower-2", "customer": customer()}
    )

    def both_seen() -> dict | None:
        tasks = _api(base, "/api/tasks")
        states = {t: tasks.get(t, {}).get("state") for t in (held.id, failed.id)}
        return tasks if states == {held.id: "RECEIVED", failed.id: "FAILURE"} else None

    tasks = _until(both_seen)
    info = {t: _api(base, f"/api/task/info/{t}") for t in (held.id, failed.id)}
    scheduled = _until(
        lambda: (
            _api(base, f"/api/workers?refresh=1&workername={worker_name}")
            .get(worker_name, {})
            .get("scheduled")
        )
    )

    assert "'record_id': 'flower-1'" in info[held.id]["kwargs"]
    assert "'order': {'id': 42, 'order_number': '00042'" in info[held.id]["kwargs"]
    assert "'record_id': 'flower-2'" in info[failed.id]["kwargs"]
    assert "has no valid state" in info[failed.id]["exception"]
    assert [s["request"]["id"] for s in scheduled] == [held.id]
    assert "'record_id': 'flower-1'" in scheduled[0]["request"]["kwargs"]
    shown = json.dumps([tasks, info, scheduled], ensure_ascii=False)
    for value in PERSONAL:
        assert value not in shown, value

    run = requests.post(
        f"{base}/api/task/async-apply/tasks.orders.poll", auth=CREDENTIALS, json={}, timeout=10
    )
    shutdown = requests.post(
        f"{base}/api/worker/shutdown/{worker_name}", auth=CREDENTIALS, timeout=10
    )
    revoke = requests.post(
        f"{base}/api/task/revoke/{held.id}?terminate=true", auth=CREDENTIALS, timeout=10
    )
    assert (run.status_code, shutdown.status_code, revoke.status_code) == (403, 403, 403)
    assert all("Read only" in answer.text for answer in (run, shutdown, revoke))
    # The worker handles control messages in order: had Flower sent the shutdown, the worker
    # would have stopped before answering this ping.
    replies = celery_app.control.ping(destination=[worker_name], timeout=10)
    assert [name for reply in replies for name in reply] == [worker_name]
    assert worker.poll() is None, "the worker was shut down"
