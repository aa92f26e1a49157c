"""A worker checks its mapping templates before it takes any work."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "sync_workers" / "mapping" / "templates"


def test_worker_refuses_to_start_on_a_broken_template(tmp_path, redis_url) -> None:
    broken = tmp_path / "templates"
    shutil.copytree(SHIPPED, broken)
    orders = yaml.safe_load((broken / "orders.yaml").read_text())
    del orders["payment_status"]
    (broken / "orders.yaml").write_text(yaml.safe_dump(orders, allow_unicode=True))

    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "sync_workers",
            "worker",
            "-P",
            "solo",
            "-Q",
            "realtime",
            "--without-gossip",
            "--without-mingle",
        ],
        cwd=ROOT,
        env={**os.environ, "MAPPING_TEMPLATES_DIR": str(broken)},
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert proc.returncode == 2
    errors = [line for line in proc.stderr.splitlines() if line.startswith("mapping template")]
    assert len(errors) == 1
    assert errors[0].startswith("mapping template error: orders.yaml: payment_status")
    assert "Traceback" not in proc.stderr
