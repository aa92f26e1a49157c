"""Sentry in a real ``celery worker`` process, sending to a local stand-in for Sentry's ingest.

The worker is started as production starts it (``celery -A … worker``, prefork), with
``SENTRY_DSN`` pointing at an HTTP server in this test that keeps every envelope it receives.
"""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.observability import sentry_tasks
from tests.observability.test_sentry import PERSONAL, customer

ROOT = Path(__file__).resolve().parents[2]


class Ingest(ThreadingHTTPServer):
    """Sentry's envelope endpoint (``POST /api/<project>/envelope/``), keeping what arrives."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.bodies: list[bytes] = []
        self.items: list[tuple[dict, bytes]] = []
        self.lock = threading.Lock()

    @property
    def dsn(self) -> str:
        return f"http://public@127.0.0.1:{self.server_address[1]}/1"

    def events(self) -> list[dict]:
        with self.lock:
            return [json.loads(p) for h, p in self.items if h.get("type") == "event"]

    def item_types(self) -> list[str]:
        with self.lock:
            return [str(h.get("type")) for h, _ in self.items]


class _Handler(BaseHTTPRequestHandler):
    server: Ingest

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        items = _parse_envelope(body)
        with self.server.lock:
            self.server.bodies.append(body)
            self.server.items.extend(items)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: object) -> None:
        pass


def _parse_envelope(body: bytes) -> list[tuple[dict, bytes]]:
    """Envelope format: a header line, then for each item a header line and its payload (of the
    header's ``length``, or up to the next newline)."""
    _, _, rest = body.partition(b"\n")
    items = []
    while rest.strip():
        line, _, rest = rest.partition(b"\n")
        header = json.loads(line)
        length = header.get("length")
        if length is None:
            payload, _, rest = rest.partition(b"\n")
        else:
            payload, rest = rest[:length], rest[length + 1 :]
        items.append((header, payload))
    return items


@pytest.fixture
def ingest():
    server = Ingest()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def worker_with_sentry(ingest, redis_client):
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "tests.observability.sentry_tasks",
            "worker",
            "-P",
            "prefork",
            "-c",
            "1",
            "-Q",
            "customers",
            "--without-gossip",
            "--without-mingle",
            "-l",
            "INFO",
            "-n",
            f"sentry-{os.getpid()}@%h",
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), "SENTRY_DSN": ingest.dsn},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    yield proc
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _wait(condition, timeout: float = 40) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)


def test_a_real_worker_reports_bugs_and_dead_letters_without_personal_data(
    ingest, worker_with_sentry
) -> None:
    sentry_tasks.crash_on_customer.apply_async(
        kwargs={"record_id": "cust-81", "customer": customer()}
    )
    sentry_tasks.reject_customer.apply_async(
        kwargs={"record_id": "cust-82", "customer": customer()}
    )

    def reported() -> bool:
        events = ingest.events()
        crashed = any("exception" in e for e in events)
        alerted = {e.get("tags", {}).get("record_id") for e in events}
        return crashed and {"cust-81", "cust-82"} <= alerted

    _wait(reported)
    # The worker's one process sends its events in order: once the alert of a record failed
    # after those two has arrived, anything they sent twice has arrived before it.
    sentry_tasks.reject_customer.apply_async(
        kwargs={"record_id": "cust-83", "customer": customer()}
    )
    _wait(lambda: "cust-83" in {e.get("tags", {}).get("record_id") for e in ingest.events()})
    events = ingest.events()

    assert worker_with_sentry.poll() is None, "the worker exited"
    crashes = [e for e in events if "exception" in e]
    assert [c["exception"]["values"][-1]["type"] for c in crashes] == ["KeyError"]
    job = crashes[0]["extra"]["celery-job"]
    assert job["task_name"] == "tests.customers.crash_on_customer"
    assert "args" not in job and "kwargs" not in job
    frames = crashes[0]["exception"]["values"][-1]["stacktrace"]["frames"]
    assert frames and all("vars" not in frame for frame in frames)
    alerts = sorted(e["tags"]["record_id"] for e in events if e.get("tags", {}).get("flow"))
    assert alerts == ["cust-81", "cust-82", "cust-83"]  # one dead-letter alert per record
    assert "log" not in ingest.item_types()
    raw = b"".join(ingest.bodies).decode("utf-8", "replace")
    for value in PERSONAL:
        assert value not in raw, value
