from __future__ import annotations

import threading
import time

import pytest
import requests

from sandboxes.common.faults import FaultConfig, FaultConfigError, FaultInjector


def _rule(**kwargs):
    return {"path": "^/api/items", "method": "*", **kwargs}


def test_p500_of_one_always_answers_500(served):
    tiny, server = served
    tiny.injector.configure({"rules": [_rule(p500=1.0)]})
    statuses = {requests.get(f"{server.url}/api/items", timeout=5).status_code for _ in range(20)}
    assert statuses == {500}


def test_p503_and_p429_answer_with_retry_after(served):
    tiny, server = served
    tiny.injector.configure({"rules": [_rule(method="GET", p429=1.0), _rule(p503=1.0)]})
    got = requests.get(f"{server.url}/api/items", timeout=5)
    assert got.status_code == 429
    assert got.headers["Retry-After"] == "1"
    posted = requests.post(f"{server.url}/api/items", json={"name": "a"}, timeout=5)
    assert posted.status_code == 503
    assert tiny.items == []


def test_rule_on_other_path_or_method_does_not_fire(served):
    tiny, server = served
    tiny.injector.configure(
        {"rules": [{"path": "^/api/orders", "p500": 1.0}, _rule(method="PUT", p500=1.0)]}
    )
    assert requests.get(f"{server.url}/api/items", timeout=5).status_code == 200


def test_timeout_fault_really_holds_the_request(served):
    tiny, server = served
    tiny.injector.configure({"rules": [_rule(ptimeout=1.0)], "timeout_seconds": 0.6})
    started = time.monotonic()
    with pytest.raises(requests.ReadTimeout):
        requests.get(f"{server.url}/api/items", timeout=0.3)
    assert time.monotonic() - started >= 0.3
    started = time.monotonic()
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{server.url}/api/items", timeout=5)
    assert time.monotonic() - started >= 0.55


def test_reset_before_commit_drops_connection_and_does_not_write(served):
    tiny, server = served
    tiny.injector.configure({"rules": [_rule(preset=1.0)]})
    with pytest.raises(requests.ConnectionError):
        requests.post(f"{server.url}/api/items", json={"name": "lost"}, timeout=5)
    assert tiny.items == []


def test_reset_after_commit_loses_the_answer_but_applies_the_write(served):
    tiny, server = served
    tiny.injector.configure({"rules": [_rule(method="POST", preset=1.0, after_commit=True)]})
    with pytest.raises(requests.ConnectionError):
        requests.post(f"{server.url}/api/items", json={"name": "applied"}, timeout=5)
    assert requests.get(f"{server.url}/api/items", timeout=5).json() == ["applied"]


def test_timeout_after_commit_applies_the_write(served):
    tiny, server = served
    tiny.injector.configure(
        {"rules": [_rule(method="POST", ptimeout=1.0, after_commit=True)], "timeout_seconds": 5}
    )
    with pytest.raises(requests.ReadTimeout):
        requests.post(f"{server.url}/api/items", json={"name": "slow"}, timeout=0.3)
    assert tiny.items == ["slow"]


def test_500_after_commit_applies_the_write(served):
    tiny, server = served
    tiny.injector.configure({"rules": [_rule(method="POST", p500=1.0, after_commit=True)]})
    answer = requests.post(f"{server.url}/api/items", json={"name": "x"}, timeout=5)
    assert answer.status_code == 500
    assert tiny.items == ["x"]


def test_latency_is_added_per_method(served):
    tiny, server = served
    tiny.injector.configure({"latency_ms": {"GET": {"min": 1000, "max": 1100}, "*": 0}})
    started = time.monotonic()
    requests.get(f"{server.url}/api/items", timeout=5)
    assert time.monotonic() - started >= 1.0
    started = time.monotonic()
    requests.post(f"{server.url}/api/items", json={"name": "fast"}, timeout=5)
    # Not the GET's latency (1 s or more); the margin is for a loaded machine.
    assert time.monotonic() - started < 0.7


def test_cold_start_timeout_holds_only_the_first_request(served):
    tiny, server = served
    tiny.injector.configure({"cold_start_timeout": True, "timeout_seconds": 5})
    with pytest.raises(requests.ReadTimeout):
        requests.get(f"{server.url}/api/items", timeout=0.3)
    assert requests.get(f"{server.url}/api/items", timeout=5).status_code == 200


def test_control_surface_is_never_faulted(served):
    tiny, server = served
    tiny.injector.configure({"rules": [{"path": ".*", "p500": 1.0}], "latency_ms": {"*": 2000}})
    started = time.monotonic()
    assert requests.get(f"{server.url}/_sandbox/stats", timeout=5).status_code == 200
    # Not the 2 s latency every other path gets; the margin is for a loaded machine.
    assert time.monotonic() - started < 1.5


def test_same_seed_gives_same_fault_sequence():
    config = {"rules": [{"path": ".*", "p500": 0.5}], "seed": 7}
    first, second = FaultInjector(env_var=None), FaultInjector(env_var=None)
    first.configure(config)
    second.configure(config)
    seq1 = [first.choose("GET", "/x", after_commit=False) for _ in range(50)]
    seq2 = [second.choose("GET", "/x", after_commit=False) for _ in range(50)]
    assert seq1 == seq2
    assert set(seq1) == {"p500", None}


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"rules": [{"p500": 1.5}]}, "rules[0].p500"),
        ({"rules": [{"path": "("}]}, "rules[0].path"),
        ({"rules": [{"p500": 0.7, "p503": 0.7}]}, "more than 1"),
        ({"latency_ms": {"GET": {"min": 10, "max": 1}}}, "latency_ms.GET"),
        ({"timeout_seconds": -1}, "timeout_seconds"),
        ({"bogus": 1}, "bogus"),
    ],
)
def test_invalid_config_names_the_field(config, field):
    with pytest.raises(FaultConfigError, match=__import__("re").escape(field)):
        FaultConfig.from_json(config)


def test_config_round_trips_through_json():
    raw = {
        "latency_ms": {"GET": {"min": 1.0, "max": 5.0}, "*": 2.0},
        "rules": [_rule(p500=0.1, p503=0.0, p429=0.2, ptimeout=0.0, preset=0.0, after_commit=True)],
        "timeout_seconds": 3.0,
        "cold_start_timeout": False,
        "seed": 3,
    }
    assert FaultConfig.from_json(raw).to_json() == raw


def test_config_is_read_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("TINY_FAULTS", '{"rules": [{"path": "^/api", "p429": 1.0}]}')
    assert FaultInjector(env_var="TINY_FAULTS").config.rules[0].probabilities["p429"] == 1.0
    path = tmp_path / "faults.json"
    path.write_text('{"timeout_seconds": 2}')
    monkeypatch.setenv("TINY_FAULTS", f"@{path}")
    assert FaultInjector(env_var="TINY_FAULTS").config.timeout_seconds == 2.0


def test_release_holds_frees_held_requests_quickly(served):
    tiny, server = served
    tiny.injector.configure({"rules": [_rule(ptimeout=1.0)], "timeout_seconds": 30})
    errors: list[Exception] = []

    def call():
        try:
            requests.get(f"{server.url}/api/items", timeout=10)
        except requests.RequestException as exc:
            errors.append(exc)

    thread = threading.Thread(target=call)
    started = time.monotonic()
    thread.start()
    while thread.is_alive() and time.monotonic() - started < 10:
        tiny.injector.release_holds()  # again, in case the request was not held yet
        thread.join(0.2)
    # Freed long before its 30 s hold ends; the margin is for a loaded machine.
    assert time.monotonic() - started < 10
    assert isinstance(errors[0], requests.ConnectionError)
