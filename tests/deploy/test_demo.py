"""``make demo`` as a new user runs it: everything up, sample orders synced, everything down."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from sync_workers.settings import get_settings
from tests.deploy.test_make_run import _env as _run_env
from tests.deploy.test_make_run import _free_ports

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("xcart", "acumatica", "webhooks", "flower", "console")
DEMO_ARGS = ("--timeout", "120", "--sandbox-urls")


def _busy(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.3)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _demo_env(tmp_path: Path, prefix: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("XCART_", "ACUMATICA_", "DATABASE_URL", "WEBHOOK"))
    }
    env.update(DATA_DIR=str(tmp_path / "data"), REDIS_KEY_PREFIX=prefix, LOG_LEVEL="WARNING")
    return env


@pytest.mark.slow
def test_demo_syncs_its_sample_orders_exits_0_and_leaves_nothing_running(
    tmp_path, redis_client
) -> None:
    """On ports of its own (``--sandbox-urls``), so a local ``make run`` or a second copy of the
    suite may run beside it."""
    ports = dict(zip(SERVICES, _free_ports(len(SERVICES)), strict=True))
    prefix = get_settings().redis_key_prefix + "demo:"
    env = {**_run_env(tmp_path / "data", prefix, ports), "LOG_LEVEL": "WARNING"}

    proc = subprocess.run(
        [sys.executable, "-m", "sync_workers.demo", "--orders", "3", *DEMO_ARGS],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )

    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "demo: all 3 orders synced" in proc.stdout
    assert "demo: push       on, Acumatica sandbox -> receiver" in proc.stdout
    assert proc.stdout.count(" synced\n") >= 3
    assert "everything stopped" in proc.stdout + proc.stderr
    assert not any(_busy(p) for p in ports.values())
    seats = [
        k
        for k in redis_client.scan_iter(match=prefix + "acumatica:*:seat:*")
        if not k.endswith((":users", ":lock")) and redis_client.hexists(k, "credential")
    ]
    assert seats == []  # every Acumatica session was signed out


def test_demo_refuses_real_systems(tmp_path) -> None:
    env = {
        **_demo_env(tmp_path, "unused:"),
        "XCART_BASE_URL": "https://shop.example",
        "XCART_API_TOKEN": "real-token",
    }

    proc = subprocess.run(
        [sys.executable, "-m", "sync_workers.demo"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert proc.returncode == 2
    assert "only against the sandboxes" in proc.stderr
    assert "real-token" not in proc.stdout + proc.stderr
