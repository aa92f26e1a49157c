from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from sandboxes.common.runner import find_create_app
from sandboxes.common.server import is_loopback_host


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _listening_ipv4() -> set[tuple[str, int]]:
    """(hex address, port) of every listening IPv4 TCP socket on this machine (Linux)."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        if state == "0A":
            address, port = local.split(":")
            found.add((address, int(port, 16)))
    return found


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


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("10.0.0.5", False),
        ("sandbox.example", False),
        ("", False),
    ],
)
def test_only_loopback_hosts_count_as_loopback(host, loopback):
    assert is_loopback_host(host) is loopback


@pytest.mark.parametrize("module", ["sandboxes", "sandboxes.xcart", "sandboxes.acumatica"])
def test_a_host_beyond_loopback_is_refused_without_allow_remote(tmp_path, module):
    proc = subprocess.run(
        [sys.executable, "-m", module, "--host", "0.0.0.0", "--data-dir", str(tmp_path / "data")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip

    assert proc.returncode == 2
    assert "--host 0.0.0.0 is not a loopback address" in proc.stderr
    assert "--allow-remote" in proc.stderr
    assert not (tmp_path / "data").exists()  # refused before any sandbox started


def test_allow_remote_listens_on_every_interface(tmp_path):
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "sandboxes", "--only", "acumatica", "--host", "0.0.0.0",
         "--allow-remote", "--data-dir", str(tmp_path), "--acumatica-port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        answer = None
        while time.monotonic() < deadline and process.poll() is None:
            try:
                answer = requests.get(f"http://127.0.0.1:{port}/entity", timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        assert answer is not None and answer.status_code == 200
        assert ("00000000", port) in _listening_ipv4()  # the wildcard address, not loopback
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0
    assert "listening on 0.0.0.0 beyond loopback (--allow-remote)" in output
    assert f"Acumatica sandbox listening on http://0.0.0.0:{port}" in output
