"""A failed read is tried again in place a few times; writes, timeouts and long waits are not."""

from __future__ import annotations

import logging
import time

import pytest
import requests
import responses

from sync_workers.connectors import http
from sync_workers.connectors.errors import (
    ACUMATICA,
    XCART,
    LoginLimitReached,
    NotFound,
    RateLimited,
    SessionExpired,
)
from sync_workers.connectors.http import Transport
from sync_workers.connectors.limits import SharedLimits
from sync_workers.errors import TransientError
from sync_workers.settings import get_settings
from tests.connectors.conftest import PREFIX

URL = "http://shop.test/api/products"


def transport(system: str = XCART, **options) -> Transport:
    return Transport(system, connect_timeout=1, read_timeout=1, **options)


@pytest.fixture
def mock():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


@pytest.fixture
def sleeps(monkeypatch) -> list[float]:
    """The in-place waits, recorded instead of slept."""
    waited: list[float] = []
    monkeypatch.setattr(http.time, "sleep", waited.append)
    return waited


def test_default_is_two_retries_from_the_settings() -> None:
    assert get_settings().http_read_retries == 2
    assert transport().read_retries == 2


def test_get_answering_503_then_200_returns_the_200_after_one_retry(mock, sleeps, caplog) -> None:
    mock.get(URL, status=503, body="unavailable")
    mock.get(URL, json=[{"id": 1}])
    with caplog.at_level(logging.INFO, logger="sync_workers.connectors.http"):
        answer = transport().request(
            "GET", URL, params={"page": 2}, headers={"X-Auth-Token": "tok-secret"}
        )
    assert answer.json() == [{"id": 1}]
    assert len(mock.calls) == 2
    assert len(sleeps) == 1 and 0.1 <= sleeps[0] <= 0.2
    [record] = [r for r in caplog.records if r.name == "sync_workers.connectors.http"]
    assert record.levelno == logging.INFO
    line = record.getMessage()
    assert "xcart GET /api/products" in line and "503" in line
    assert "page" not in line and "tok-secret" not in line and "shop.test" not in line


def test_get_answering_503_three_times_raises_the_last_error_after_three_attempts(
    mock, sleeps
) -> None:
    mock.get(URL, status=503, body="first")
    mock.get(URL, status=503, body="second")
    mock.get(URL, status=503, body="third")
    with pytest.raises(TransientError) as caught:
        transport().request("GET", URL)
    assert len(mock.calls) == 3
    assert caught.value.details["status"] == 503
    assert caught.value.details["body"] == "third"
    assert "maybe_applied" not in caught.value.details
    assert len(sleeps) == 2
    assert 0.1 <= sleeps[0] <= 0.2 and 0.2 <= sleeps[1] <= 0.4  # d = 0.2 s * 2**n, [d/2, d]


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_each_retried_status_is_tried_again(mock, sleeps, status) -> None:
    mock.get(URL, status=status, json={"detail": "try again"})
    mock.get(URL, json=[])
    assert transport().request("GET", URL).json() == []
    assert len(mock.calls) == 2


@pytest.mark.parametrize("status", [400, 401, 403, 404, 408, 409, 422])
def test_other_failures_are_not_tried_again(mock, sleeps, status) -> None:
    mock.get(URL, status=status, json={"detail": "no"})
    mock.get(URL, json=[])
    with pytest.raises(Exception):  # noqa: B017 - the error class depends on the status
        transport().request("GET", URL)
    assert len(mock.calls) == 1 and sleeps == []


def test_429_with_a_short_retry_after_is_waited_out(mock, sleeps) -> None:
    mock.get(URL, status=429, headers={"Retry-After": "1"}, json={"detail": "slow down"})
    mock.get(URL, json=[{"id": 1}])
    answer = transport().request("GET", URL)
    assert answer.json() == [{"id": 1}]
    assert sleeps == [1.0]
    assert len(mock.calls) == 2


def test_429_with_a_long_retry_after_is_raised_at_once(mock, sleeps) -> None:
    mock.get(URL, status=429, headers={"Retry-After": "30"}, json={"detail": "slow down"})
    mock.get(URL, json=[])
    with pytest.raises(RateLimited) as caught:
        transport().request("GET", URL)
    assert sleeps == []  # nothing waited in place: the task retries later
    assert caught.value.retry_after == 30
    assert len(mock.calls) == 1


def test_the_shared_penalty_of_a_429_is_waited_and_every_attempt_takes_a_slot(
    mock, redis_client, monkeypatch
) -> None:
    limits = SharedLimits(
        redis_client, "retry-test", max_concurrent=2, backoff_base=0.3, prefix=PREFIX
    )
    slots = []
    real_slot = limits.slot

    def counting_slot(count=None, writing=None, heartbeat=None):
        slots.append(time.monotonic())
        return real_slot(count, writing, heartbeat)

    monkeypatch.setattr(limits, "slot", counting_slot)
    mock.get(URL, status=429, json={"detail": "slow down"})  # no Retry-After
    mock.get(URL, json=[])
    started = time.monotonic()
    assert transport(limits=limits).request("GET", URL).json() == []
    assert len(slots) == 2 and len(mock.calls) == 2
    assert time.monotonic() - started >= 0.3  # the fleet-wide pause, not the 0.1-0.2 s delay
    assert limits.in_flight() == 0


def test_unlimited_requests_are_retried_without_a_slot(mock, sleeps, redis_client) -> None:
    limits = SharedLimits(redis_client, "retry-test", max_concurrent=1, prefix=PREFIX)
    with limits.slot():  # every slot busy: a limited request would wait
        mock.get(URL, status=503)
        mock.get(URL, json=[])
        assert transport(limits=limits).request("GET", URL, limited=False).json() == []
    assert len(mock.calls) == 2


@pytest.mark.parametrize("method", ["PUT", "POST", "DELETE", "PATCH"])
def test_writes_are_never_tried_again_in_place(mock, sleeps, method) -> None:
    mock.add(method, URL, status=503, body="unavailable")
    mock.add(method, URL, json={})
    with pytest.raises(TransientError):
        transport().request(method, URL, json={"amount": 1})
    assert len(mock.calls) == 1 and sleeps == []


def test_a_read_timeout_is_not_tried_again_in_place(mock, sleeps) -> None:
    mock.get(URL, body=requests.ReadTimeout("read timed out"))
    mock.get(URL, json=[])
    with pytest.raises(TransientError) as caught:
        transport().request("GET", URL)
    assert caught.value.details["reason"] == "read timeout"
    assert len(mock.calls) == 1 and sleeps == []


def test_a_broken_body_is_not_tried_again_in_place(mock, sleeps) -> None:
    mock.get(URL, body=requests.exceptions.ChunkedEncodingError("connection broken"))
    mock.get(URL, json=[])
    with pytest.raises(TransientError):
        transport().request("GET", URL)
    assert len(mock.calls) == 1


@pytest.mark.parametrize(
    "failure",
    [
        "HTTPConnectionPool: NewConnectionError: [Errno 111] Connection refused",
        "('Connection aborted.', ConnectionResetError(104, 'Connection reset by peer'))",
    ],
)
def test_a_refused_or_reset_connection_is_tried_again(mock, sleeps, failure) -> None:
    mock.get(URL, body=requests.ConnectionError(failure))
    mock.get(URL, json=[{"id": 1}])
    assert transport().request("GET", URL).json() == [{"id": 1}]
    assert len(mock.calls) == 2 and len(sleeps) == 1


def test_an_expired_session_and_the_seat_limit_are_left_to_the_acumatica_client(
    mock, sleeps
) -> None:
    erp = "http://erp.test/entity/Default/24.200.001/StockItem"
    mock.get(erp, status=401, json={"message": "You are not logged in."})
    mock.get(erp, status=429, json={"message": "API Login Limit"})
    mock.get(erp, json=[])
    acu = transport(ACUMATICA)
    with pytest.raises(SessionExpired):
        acu.request("GET", erp)
    with pytest.raises(LoginLimitReached):
        acu.request("GET", erp)
    assert len(mock.calls) == 2 and sleeps == []


def test_a_permanent_500_is_not_tried_again(mock, sleeps) -> None:
    erp = "http://erp.test/entity/Default/24.200.001/SalesOrder/SO/1"
    mock.get(erp, status=500, json={"exceptionMessage": "No entity satisfies the condition."})
    with pytest.raises(NotFound):
        transport(ACUMATICA).request("GET", erp)
    assert len(mock.calls) == 1


def test_zero_read_retries_disables_them(mock, sleeps, monkeypatch) -> None:
    monkeypatch.setenv("HTTP_READ_RETRIES", "0")
    get_settings.cache_clear()
    try:
        disabled = transport()
    finally:
        monkeypatch.delenv("HTTP_READ_RETRIES")
        get_settings.cache_clear()
    assert disabled.read_retries == 0
    mock.get(URL, status=503)
    mock.get(URL, json=[])
    with pytest.raises(TransientError):
        disabled.request("GET", URL)
    assert len(mock.calls) == 1 and sleeps == []


def test_read_retries_can_be_given_to_the_transport(mock, sleeps) -> None:
    mock.get(URL, status=503)
    with pytest.raises(TransientError):
        transport(read_retries=4).request("GET", URL)
    assert len(mock.calls) == 5 and len(sleeps) == 4


def test_a_write_under_record_locks_whose_heartbeat_is_stale_is_not_sent(
    mock, redis_client, monkeypatch
) -> None:
    """Cut off from Redis, a task holding record locks starts no write: its locks are about to
    be taken over by a worker that may make the same write. Reads still go."""
    from sync_workers import locks

    mock.put(URL, json={"id": 1})
    mock.get(URL, json=[])
    with locks.record_lock("orders", "5"):
        assert transport().request("PUT", URL, json={}).json() == {"id": 1}
        monkeypatch.setattr(locks, "HOLDER_SECONDS", 0.001)  # the last renewal is now too old
        with pytest.raises(TransientError, match="no write is started") as raised:
            transport().request("PUT", URL, json={})
        assert raised.value.details == {"reason": "heartbeat"}
        assert transport().request("GET", URL).json() == []
        monkeypatch.undo()
    assert [c.request.method for c in mock.calls] == ["PUT", "GET"]
    monkeypatch.setattr(locks, "HOLDER_SECONDS", 0.001)
    assert transport().request("PUT", URL, json={}).json() == {"id": 1}  # no lock held


def test_a_write_under_record_locks_marks_its_holder_writing_while_in_flight(
    mock, redis_client
) -> None:
    """The mark a gone holder's locks wait for: set with the request's slot, for the lease's
    time, and removed with it; reads and writes outside record locks mark nothing."""
    from sync_workers import locks
    from sync_workers.redis_client import get_redis

    limits = SharedLimits(redis_client, "mark-test", max_concurrent=2, prefix=PREFIX)
    seen: list[tuple[str, int]] = []

    def answer(request):
        mark = locks.write_mark()
        seen.append((request.method, get_redis().pttl(mark) if mark else -2))
        return 200, {}, "{}"

    mock.add_callback(responses.PUT, URL, callback=answer)
    mock.add_callback(responses.GET, URL, callback=answer)
    mock.add_callback(responses.POST, URL, callback=answer)
    with locks.record_lock("orders", "6"):
        mark = locks.write_mark()
        transport(limits=limits).request("PUT", URL, json={})
        transport(limits=limits).request("GET", URL)
        transport(limits=limits).request("POST", URL, json={}, writes=False)  # a sign-in
        assert mark is not None and not get_redis().exists(mark)
    transport(limits=limits).request("PUT", URL, json={})
    [(put, ttl), get, sign_in, outside] = seen
    assert put == "PUT" and 0 < ttl <= 300_000  # the lease's time
    assert get == ("GET", -2)
    assert sign_in == ("POST", -2)
    assert outside == ("PUT", -2)
    assert limits.in_flight() == 0
