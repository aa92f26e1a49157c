"""Flower: authentication required off loopback, credentials never on the command line,
queue lengths visible."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import pytest
import requests

from sync_workers.celery import app as celery_app
from sync_workers.observability.flower import FlowerRefused, flower_command, is_loopback
from sync_workers.settings import load_settings


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
        settings(FLOWER_ADDRESS="0.0.0.0", FLOWER_BASIC_AUTH="ops:s3cret-pw", FLOWER_PORT="5599")
    )

    assert "s3cret-pw" not in " ".join(argv)
    assert env["FLOWER_BASIC_AUTH"] == "ops:s3cret-pw"
    assert (env["FLOWER_ADDRESS"], env["FLOWER_PORT"]) == ("0.0.0.0", "5599")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_running_flower_asks_for_credentials_and_shows_queue_lengths(redis_client) -> None:
    port = _free_port()
    for n in range(2):
        celery_app.send_task("tasks.orders.poll", kwargs={"ids": [str(n)]})
    env = {**os.environ, "FLOWER_PORT": str(port), "FLOWER_BASIC_AUTH": "ops:pw-for-test"}
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
        lengths = requests.get(base + "/api/queues/length", auth=("ops", "pw-for-test"), timeout=10)
    finally:
        proc.terminate()
        proc.wait(timeout=20)

    assert anonymous.status_code == 401
    assert lengths.status_code == 200
    queues = {q["name"]: q["messages"] for q in lengths.json()["active_queues"]}
    assert queues["orders"] == 2
