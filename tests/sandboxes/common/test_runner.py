from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import requests

from sandboxes.common.runner import find_create_app


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_find_create_app_answers_none_for_a_missing_sandbox():
    assert find_create_app("no_such_sandbox") is None
    assert find_create_app("xcart") is not None


def test_runner_serves_xcart_and_stops_on_sigterm(tmp_path):
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "sandboxes", "--only", "xcart", "--seed",
         "--data-dir", str(tmp_path), "--xcart-port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        answer = None
        while time.monotonic() < deadline:
            try:
                answer = requests.get(
                    f"http://127.0.0.1:{port}/api/products?itemsPerPage=1",
                    headers={"X-Auth-Token": "sandbox-ro"}, timeout=1,
                )  # fmt: skip
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        assert answer is not None and answer.status_code == 200
        assert answer.json()[0]["sku"] == "AA-0001"
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0
    assert f"X-Cart sandbox listening on http://127.0.0.1:{port}" in output
    assert (tmp_path / "xcart" / "xcart.sqlite3").exists()
