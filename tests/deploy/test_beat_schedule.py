"""The beat schedule: one poll per flow with its interval and expiry, housekeeping; two RedBeats
send once."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

from schedules.beat import FLOWS, build_schedule
from sync_workers.celery import FLOW_QUEUES, celery_config
from sync_workers.settings import get_settings, load_settings

ROOT = Path(__file__).resolve().parents[2]


def test_one_poll_entry_per_flow_with_its_interval_and_an_expiry() -> None:
    settings = load_settings(
        {"POLL_INTERVAL_SECONDS": "30", "INVENTORY_POLL_INTERVAL_SECONDS": "300"}
    )

    schedule = build_schedule(settings)

    assert set(FLOWS) == set(FLOW_QUEUES)
    assert {entry["task"] for entry in schedule.values()} == {
        *(f"tasks.{f}.poll" for f in FLOWS),
        "tasks.maintenance.prune_history",
        "tasks.maintenance.dead_letter_upkeep",
    }
    assert schedule["dead-letter-upkeep"]["schedule"] == timedelta(minutes=10)
    assert schedule["dead-letter-upkeep"]["options"]["expires"] == 900
    assert schedule["poll-inventory"]["schedule"] == timedelta(seconds=300)
    assert schedule["poll-orders"]["schedule"] == timedelta(seconds=30)
    assert schedule["poll-inventory"]["options"]["expires"] == 450
    assert schedule["poll-orders"]["options"]["expires"] == 45


def test_the_celery_app_carries_the_schedule() -> None:
    config = celery_config(load_settings({"ORDERS_POLL_INTERVAL_SECONDS": "90"}))

    assert config["beat_schedule"]["poll-orders"]["schedule"] == timedelta(seconds=90)


def _orders_messages(redis_client) -> list[dict]:
    key = get_settings().redis_key_prefix + "orders"
    return [json.loads(raw) for raw in redis_client.lrange(key, 0, -1)]


def _beat(env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "sync_workers",
            "beat",
            "-S",
            "redbeat.RedBeatScheduler",
            "-l",
            "INFO",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_two_redbeat_schedulers_send_each_entry_once(redis_client) -> None:
    env = {
        **os.environ,
        **{f"{flow.upper()}_POLL_INTERVAL_SECONDS": "3600" for flow in FLOWS},
        "ORDERS_POLL_INTERVAL_SECONDS": "1",
    }
    beats = [_beat(env), _beat(env)]
    try:
        deadline = time.monotonic() + 40
        while not _orders_messages(redis_client) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _orders_messages(redis_client), "beat sent nothing"
        start = time.monotonic()
        first = len(_orders_messages(redis_client))
        time.sleep(6)
        sent = len(_orders_messages(redis_client)) - first
        elapsed = time.monotonic() - start
    finally:
        for beat in beats:
            beat.terminate()
        logs = [beat.communicate(timeout=20)[1] for beat in beats]

    # Every second once, not once per scheduler (twice). The lower bound only says the schedule
    # is still kept: generous, as a loaded machine can make beat late.
    assert 2 <= sent <= elapsed + 1, (sent, elapsed)
    lock = get_settings().redis_key_prefix + "redbeat::lock"
    waiting = [log for log in logs if "Acquired lock" not in log]
    assert len(waiting) == 1, "exactly one beat should have held the lock"
    message = _orders_messages(redis_client)[-1]
    assert message["headers"]["task"] == "tasks.orders.poll"
    assert message["headers"]["expires"] is not None
    assert json.loads(base64.b64decode(message["body"]))[1] == {}
    assert redis_client.exists(lock) == 0  # released on shutdown
