from __future__ import annotations

import threading

import pytest
import requests
from flask import Flask

from sandboxes.common.server import serve_in_thread


def test_serve_in_thread_serves_concurrent_requests_and_stops():
    app = Flask("blocking")
    barrier = threading.Barrier(3, timeout=5)

    @app.get("/wait")
    def wait():
        barrier.wait()
        return "ok"

    server = serve_in_thread(app)
    assert server.url == f"http://127.0.0.1:{server.port}"
    results: list[str] = []
    threads = [
        threading.Thread(
            target=lambda: results.append(requests.get(f"{server.url}/wait", timeout=5).text)
        )
        for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == ["ok"] * 3
    server.stop()
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{server.url}/wait", timeout=1)
