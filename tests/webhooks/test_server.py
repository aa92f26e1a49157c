"""``python -m sync_workers.webhooks``: gunicorn serving the receiver, stopped cleanly by SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid

import requests

from tests.webhooks.conftest import PUSH_SECRET


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_gunicorn_serves_health_and_push_and_stops_on_sigterm(redis_client) -> None:
    port = _free_port()
    env = {**os.environ, "WEBHOOK_ACUMATICA_SECRET": PUSH_SECRET, "LOG_LEVEL": "WARNING"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "sync_workers.webhooks", "--port", str(port), "--workers", "1"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                health = requests.get(base + "/healthz", timeout=2)
                break
            except requests.ConnectionError:
                time.sleep(0.2)
        push = requests.post(
            base + "/webhooks/acumatica/orders",
            json={"Id": str(uuid.uuid4()), "Inserted": [], "Deleted": []},
            headers={"X-Sync-Secret": PUSH_SECRET},
            timeout=10,
        )
        garbage = requests.post(
            base + "/webhooks/acumatica/orders",
            data=b"\x00" * 2_000_000,
            headers={"X-Sync-Secret": PUSH_SECRET},
            timeout=10,
        )
    finally:
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=20)

    assert health.json() == {"status": "ok"}
    assert push.status_code == 202
    assert garbage.status_code == 413
    assert proc.returncode == 0, stderr[-2000:]
    assert PUSH_SECRET not in stderr
