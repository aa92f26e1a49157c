from __future__ import annotations

import contextlib
import threading
import time

import requests


def test_non_loopback_client_gets_403(tiny):
    client = tiny.app.test_client()
    answer = client.get("/_sandbox/stats", environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert answer.status_code == 403
    assert "loopback" in answer.get_json()["error"]
    assert (
        client.post("/_sandbox/reset", environ_base={"REMOTE_ADDR": "192.168.0.9"}).status_code
        == 403
    )


def test_loopback_clients_are_served(tiny):
    client = tiny.app.test_client()
    assert (
        client.get("/_sandbox/stats", environ_base={"REMOTE_ADDR": "127.0.0.1"}).status_code == 200
    )
    assert client.get("/_sandbox/stats", environ_base={"REMOTE_ADDR": "::1"}).status_code == 200


def test_post_faults_replaces_config_and_bad_config_is_400(served):
    _tiny, server = served
    posted = requests.post(
        f"{server.url}/_sandbox/faults", json={"rules": [{"path": "^/api", "p500": 1.0}]}, timeout=5
    )
    assert posted.status_code == 200
    assert requests.get(f"{server.url}/api/items", timeout=5).status_code == 500
    assert (
        requests.get(f"{server.url}/_sandbox/faults", timeout=5).json()["rules"][0]["p500"] == 1.0
    )
    bad = requests.post(f"{server.url}/_sandbox/faults", json={"rules": [{"p503": 2}]}, timeout=5)
    assert bad.status_code == 400
    assert "rules[0].p503" in bad.json()["error"]
    requests.post(f"{server.url}/_sandbox/faults", json={}, timeout=5)
    assert requests.get(f"{server.url}/api/items", timeout=5).status_code == 200


def test_stats_count_requests_statuses_and_faults(served):
    tiny, server = served
    requests.get(f"{server.url}/api/items", timeout=5)
    requests.post(f"{server.url}/api/items", json={"name": "a"}, timeout=5)
    tiny.injector.configure({"rules": [{"path": "^/api", "method": "GET", "p500": 1.0}]})
    requests.get(f"{server.url}/api/items", timeout=5)
    stats = requests.get(f"{server.url}/_sandbox/stats", timeout=5).json()
    assert stats["requests"]["total"] == 3
    assert stats["requests"]["by_path"] == {"GET /api/items": 2, "POST /api/items": 1}
    assert stats["requests"]["by_status"] == {"200": 1, "201": 1, "500": 1}
    assert stats["faults_injected"] == {"p500": 1}
    assert stats["items_stored"] == 1
    requests.post(f"{server.url}/_sandbox/stats/reset", timeout=5)
    stats = requests.get(f"{server.url}/_sandbox/stats", timeout=5).json()
    assert stats["requests"]["total"] == 0
    assert stats["faults_injected"] == {}


def test_peak_concurrency_counts_requests_in_flight(served):
    tiny, server = served
    tiny.injector.configure({"rules": [{"path": "^/api", "ptimeout": 1.0}], "timeout_seconds": 0.5})

    def call():
        with contextlib.suppress(requests.RequestException):
            requests.get(f"{server.url}/api/items", timeout=5)

    threads = [threading.Thread(target=call) for _ in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(0.3)
    assert tiny.stats.concurrency == 4
    for thread in threads:
        thread.join()
    # A request leaves the count once its answer is written, just after the client has it.
    deadline = time.monotonic() + 5
    stats = requests.get(f"{server.url}/_sandbox/stats", timeout=5).json()
    while stats["concurrency"] and time.monotonic() < deadline:
        time.sleep(0.02)
        stats = requests.get(f"{server.url}/_sandbox/stats", timeout=5).json()
    assert stats["peak_concurrency"] == 4
    assert stats["concurrency"] == 0
    assert stats["faults_injected"] == {"ptimeout": 4}


def test_reset_clears_data_faults_and_stats_and_can_seed(served):
    tiny, server = served
    requests.post(f"{server.url}/api/items", json={"name": "a"}, timeout=5)
    tiny.injector.configure({"rules": [{"path": "^/nothing", "p500": 1.0}]})
    answer = requests.post(
        f"{server.url}/_sandbox/reset", json={"seed": True, "count": 2}, timeout=5
    )
    assert answer.json() == {"ok": True, "seeded": {"items": 2}}
    assert tiny.items == ["seeded", "seeded"]
    assert tiny.injector.config.rules == ()
    assert tiny.stats.snapshot()["requests"]["total"] == 0


def test_seed_passes_body_as_options(served):
    tiny, server = served
    answer = requests.post(f"{server.url}/_sandbox/seed", json={"count": 3}, timeout=5)
    assert answer.json() == {"ok": True, "items": 3}
    assert tiny.seeds == [{"count": 3}]
    assert requests.post(f"{server.url}/_sandbox/seed", data="[1]", timeout=5).status_code == 400
