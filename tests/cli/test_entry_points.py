"""The subcommands are reachable on the real ``celery`` command line (installed entry points)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def celery(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "celery", "-A", "sync_workers", *args],
        cwd=ROOT,
        env=os.environ.copy(),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_celery_lists_the_operator_subcommands(redis_client) -> None:
    listed = celery("--help")
    entries = celery("dlq", "list", "--json")

    commands = {line.split()[0] for line in listed.stdout.splitlines() if line.startswith("  ")}
    assert {"resync", "dlq", "sync-status", "reconcile"} <= commands
    assert entries.returncode == 0, entries.stderr
    assert json.loads(entries.stdout) == []
