"""Many worker processes against the Acumatica sandbox: one seat, shared limits."""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor

import requests

from tests.connectors.acumatica import fleet
from tests.connectors.conftest import PREFIX

#: The test Redis (``TEST_REDIS_URL``), as the suite's set-up gives it to the engine.
REDIS_URL = os.environ["REDIS_URL"]

SETTINGS = {"username": "admin", "password": "sandbox", "tenant": "Company", "max_sessions": 1}


def licence(server, **values) -> None:
    answer = requests.post(f"{server.url}/_sandbox/licence", json=values, timeout=5)
    assert answer.status_code == 200, answer.text


def stats(server) -> dict:
    return requests.get(f"{server.url}/_sandbox/stats", timeout=5).json()


def run_fleet(server, *, processes: int, total: int, threads: int = 1, **settings) -> Counter:
    config = {"base_url": server.url, **SETTINGS, **settings}
    per_process = [total // processes + (i < total % processes) for i in range(processes)]
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=processes, mp_context=context) as pool:
        futures = [
            pool.submit(fleet.run, config, count, threads, processes, REDIS_URL, PREFIX)
            for count in per_process
        ]
        results = [future.result(timeout=120) for future in futures]
    outcome: Counter = Counter()
    for result in results:
        outcome.update(result)
    return outcome


def test_eight_processes_share_one_session(acumatica_sandbox, redis_client):
    outcome = run_fleet(acumatica_sandbox, processes=8, total=500)
    seen = stats(acumatica_sandbox)
    assert outcome == {"ok": 500}
    assert seen["peak_sessions"] == 1
    assert seen["logins"] == 1
    assert seen["login_limit_errors"] == 0
    assert seen["logouts"] == 1 and seen["sessions_in_use"] == 0


def test_session_dropped_mid_batch_is_renewed_once(acumatica_sandbox, redis_client):
    def drop_when_half_done() -> None:
        deadline = time.monotonic() + 60
        while (
            int(redis_client.get(PREFIX + "fleet:done") or 0) < 150 and time.monotonic() < deadline
        ):
            time.sleep(0.005)
        requests.post(f"{acumatica_sandbox.url}/_sandbox/sessions/drop", timeout=5)

    dropper = threading.Thread(target=drop_when_half_done)
    dropper.start()
    outcome = run_fleet(acumatica_sandbox, processes=4, total=300, threads=2)
    dropper.join()
    seen = stats(acumatica_sandbox)
    assert outcome == {"ok": 300}
    assert seen["logins"] == 2  # the first login, then one re-login for the whole fleet
    assert seen["peak_sessions"] == 1
    assert seen["login_limit_errors"] == 0


def test_seats_taken_by_someone_else_back_off_without_hammering(acumatica_sandbox, redis_client):
    licence(acumatica_sandbox, max_sessions=1)
    other = requests.post(
        f"{acumatica_sandbox.url}/entity/auth/login",
        timeout=5,
        json={"name": "admin", "password": "sandbox", "tenant": "Company"},
    )
    assert other.status_code == 204
    outcome = run_fleet(acumatica_sandbox, processes=4, total=40, login_backoff_seconds=30)
    seen = stats(acumatica_sandbox)
    assert outcome == {"LoginLimitReached": 40}
    assert seen["login_limit_errors"] == 1  # one attempt, then the shared back-off


def test_licence_limits_hold_for_the_whole_fleet(acumatica_sandbox, redis_client):
    """32 callers at once would overflow the licence queue (4 running + 20 waiting) and get
    429s; sharing the limits keeps the fleet inside the licence."""
    licence(acumatica_sandbox, requests_per_minute=600, max_concurrent=4)
    requests.post(
        f"{acumatica_sandbox.url}/_sandbox/faults", json={"latency_ms": {"GET": 40}}, timeout=5
    ).raise_for_status()
    requests.post(f"{acumatica_sandbox.url}/_sandbox/stats/reset", timeout=5)
    outcome = run_fleet(
        acumatica_sandbox,
        processes=4,
        threads=8,
        total=200,
        requests_per_minute=600,
        max_concurrent=4,
    )
    seen = stats(acumatica_sandbox)
    assert outcome == {"ok": 200}
    assert seen["declined_429"] == 0
    assert seen["peak_concurrent_requests"] <= 4
    assert seen["requests_per_minute_peak"] <= 600


def test_rate_limit_holds_when_it_binds(acumatica_sandbox, redis_client):
    licence(acumatica_sandbox, requests_per_minute=100, max_concurrent=4, minute_seconds=1)
    requests.post(f"{acumatica_sandbox.url}/_sandbox/stats/reset", timeout=5)
    started = time.monotonic()
    outcome = run_fleet(
        acumatica_sandbox,
        processes=4,
        threads=2,
        total=200,
        requests_per_minute=100,
        rate_window_seconds=1,
        max_concurrent=4,
    )
    elapsed = time.monotonic() - started
    seen = stats(acumatica_sandbox)
    assert outcome == {"ok": 200}
    assert seen["declined_429"] == 0
    assert seen["requests_per_minute_peak"] <= 100
    assert seen["peak_concurrent_requests"] <= 4
    assert elapsed >= 2.0  # 201 requests at 100 per (1 s + margin) need at least two windows


def test_forked_child_is_its_own_fleet_member(acumatica_sandbox, redis_client):
    """A client inherited across fork (a prefork worker) must not share the parent's lease."""
    import os
    import signal

    from sync_workers.connectors.acumatica.client import AcumaticaClient
    from sync_workers.connectors.config import AcumaticaConfig

    config = AcumaticaConfig(base_url=acumatica_sandbox.url, **SETTINGS)
    parent = AcumaticaClient(config, redis_client, register_atexit=False, prefix=PREFIX)
    parent.get_list("StockItem", top=1)
    pid = os.fork()
    if pid == 0:  # child: use the inherited client, then leave the fleet
        signal.alarm(20)
        code = 0
        try:
            parent.get_list("StockItem", top=1)
            parent.close()
        except BaseException:
            code = 1
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert stats(acumatica_sandbox)["logouts"] == 0  # the parent still uses the session
    parent.get_list("StockItem", top=1)
    parent.close()
    seen = stats(acumatica_sandbox)
    assert seen["logins"] == 1 and seen["logouts"] == 1
