"""Duplicate and out-of-order push notifications.

The Acumatica sandbox pushes each notification to the engine's receiver and, through a second
subscription, to this tap. ``Replayer.tick`` then sends recorded notifications to the receiver
again, shuffled (older after newer): half with their original ``Id`` (a resend, which the
receiver must drop) and half under a new ``Id`` (the same change notified twice, which the flows
must absorb).
"""

from __future__ import annotations

import json
import random
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests


class Tap:
    """A tiny HTTP server that records every notification posted to ``/<flow>``."""

    def __init__(self) -> None:
        self.received: list[tuple[str, dict[str, Any]]] = []
        self.lock = threading.Lock()
        tap = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    body = json.loads(self.rfile.read(length) or b"{}")
                except ValueError:
                    body = None
                if isinstance(body, dict):
                    with tap.lock:
                        tap.received.append((self.path.strip("/"), body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def take(self) -> list[tuple[str, dict[str, Any]]]:
        with self.lock:
            taken, self.received = self.received, []
        return taken

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def replay_plan(
    notes: list[tuple[str, dict[str, Any]]], rng: random.Random
) -> list[tuple[str, dict[str, Any]]]:
    """The notifications to send again: every one, shuffled, half of them under a new Id."""
    plan = []
    for flow, body in notes:
        again = dict(body)
        if rng.random() < 0.5:
            again["Id"] = str(uuid.UUID(int=rng.getrandbits(128)))
        plan.append((flow, again))
    rng.shuffle(plan)
    return plan


class Replayer:
    def __init__(self, tap: Tap, receiver_url: str, header: str, secret: str) -> None:
        self.tap = tap
        self.receiver_url = receiver_url.rstrip("/")
        self.http = requests.Session()
        self.http.headers[header] = secret
        self.rng = random.Random(5)
        self.held: list[tuple[str, dict[str, Any]]] = []
        self.sent = 0
        self.failed = 0

    def tick(self) -> int:
        """Send what was held back last time, shuffled with part of what arrived since."""
        fresh = self.tap.take()
        self.rng.shuffle(fresh)
        now, later = fresh[: len(fresh) // 2], fresh[len(fresh) // 2 :]
        batch = replay_plan(self.held + now, self.rng)
        self.held = later  # these go out after newer ones: out of order
        for flow, body in batch:
            try:
                answer = self.http.post(
                    f"{self.receiver_url}/webhooks/acumatica/{flow}", json=body, timeout=10
                )
                self.sent += 1
                if answer.status_code >= 300:
                    self.failed += 1
            except requests.RequestException:
                self.failed += 1
        return len(batch)
