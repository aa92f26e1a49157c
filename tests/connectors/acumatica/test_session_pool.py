"""Seat sharing, leases and sign-out of the fleet-wide session pool (HTTP mocked)."""

from __future__ import annotations

import itertools
import time
from urllib.parse import parse_qs

import pytest
import responses

from sync_workers.connectors.acumatica.client import AcumaticaClient
from sync_workers.connectors.config import AcumaticaConfig
from tests.connectors.conftest import PREFIX

BASE = "http://erp.test"
LOGIN = f"{BASE}/entity/auth/login"
LOGOUT = f"{BASE}/entity/auth/logout"
ITEM = f"{BASE}/entity/Default/24.200.001/StockItem/MUG"
PASSWORD = "pw-Secret-9"


@pytest.fixture
def mock():
    sessions = itertools.count(1)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.add_callback(
            "POST",
            LOGIN,
            callback=lambda _req: (
                204,
                {"Set-Cookie": f"ASP.NET_SessionId=s{next(sessions)}; path=/"},
                "",
            ),
        )
        rsps.add("POST", LOGOUT, status=204)
        rsps.add("GET", ITEM, json={"InventoryID": {"value": "MUG"}})
        yield rsps


def client(redis_client, **settings) -> AcumaticaClient:
    config = AcumaticaConfig(
        base_url=BASE, username="admin", password="pw", tenant="Company", **settings
    )
    return AcumaticaClient(config, redis_client, register_atexit=False, prefix=PREFIX)


def calls(mock, url: str) -> list:
    return [c for c in mock.calls if c.request.url == url]


def test_clients_spread_over_the_configured_seats_and_no_further(mock, redis_client):
    fleet = [client(redis_client, max_sessions=2) for _ in range(5)]
    for member in fleet:
        member.get_by_keys("StockItem", "MUG")
    assert len(calls(mock, LOGIN)) == 2
    cookies = {c.request.headers["Cookie"] for c in calls(mock, ITEM)}
    assert cookies == {"ASP.NET_SessionId=s1", "ASP.NET_SessionId=s2"}
    for member in fleet:
        member.close()
    assert len(calls(mock, LOGOUT)) == 2


def test_a_dead_processes_lease_expires_and_the_last_live_user_signs_out(mock, redis_client):
    dead = client(redis_client, session_lease_seconds=0.3)
    dead.get_by_keys("StockItem", "MUG")  # then never closes: the process was killed
    alive = client(redis_client, session_lease_seconds=0.3)
    alive.get_by_keys("StockItem", "MUG")
    assert len(calls(mock, LOGIN)) == 1
    time.sleep(0.35)
    alive.close()
    assert len(calls(mock, LOGOUT)) == 1


def test_a_live_lease_keeps_the_session_open(mock, redis_client):
    first = client(redis_client)
    second = client(redis_client)
    first.get_by_keys("StockItem", "MUG")
    second.get_by_keys("StockItem", "MUG")
    first.close()
    assert calls(mock, LOGOUT) == []
    second.get_by_keys("StockItem", "MUG")
    assert len(calls(mock, LOGIN)) == 1


def test_pool_keys_are_scoped_by_prefix_and_never_hold_the_password(mock, redis_client):
    client(redis_client).get_by_keys("StockItem", "MUG")
    keys = redis_client.keys(PREFIX + "*")
    pool, counters = f"{PREFIX}acumatica:".encode(), f"{PREFIX}ops:".encode()
    assert keys and all(k.startswith((pool, counters)) for k in keys)
    assert redis_client.keys("sync:acumatica:*") == []  # nothing under the default prefix
    stored = b""
    for key in keys:
        kind = redis_client.type(key)
        if kind == b"hash":
            stored += b"".join(redis_client.hvals(key))
        elif kind == b"string":
            stored += redis_client.get(key) or b""
        elif kind == b"zset":
            stored += b"".join(redis_client.zrange(key, 0, -1))
    assert b"ASP.NET_SessionId" in stored  # the shared cookie is there...
    assert PASSWORD.encode() not in stored  # ...the password never is


def test_close_survives_redis_being_gone(mock, redis_client):
    import redis

    member = client(redis_client)
    member.get_by_keys("StockItem", "MUG")
    member.sessions._redis = redis.Redis(host="127.0.0.1", port=1, retry=None)
    member.close()  # no exception at shutdown
    assert member.sessions._lease is None


# Lifetimes of the seat keys ------------------------------------------------------------------
TOKEN = f"{BASE}/identity/connect/token"
DAY = 24 * 3600.0


def seat_key(member: AcumaticaClient, seat: int = 0) -> str:
    return member.sessions._seat_key(seat)


def oauth_client(redis_client, **settings) -> AcumaticaClient:
    return client(
        redis_client, auth_mode="oauth", client_id="sync@Company", client_secret="cs", **settings
    )


def grants(mock) -> list[str]:
    return [parse_qs(c.request.body)["grant_type"][0] for c in calls(mock, TOKEN)]


def test_a_cookie_sessions_key_lives_its_idle_timeout_past_the_last_use(mock, redis_client):
    member = client(redis_client, session_idle_seconds=600)
    member.get_by_keys("StockItem", "MUG")

    ttl = redis_client.pttl(seat_key(member)) / 1000
    # The idle timeout, plus the renewal interval (a tenth of it) the uses in between may miss.
    assert 600 < ttl <= 660


def test_an_oauth_credential_lives_until_its_refresh_chain_ends(mock, redis_client):
    mock.add("POST", TOKEN, json={"access_token": "a1", "refresh_token": "r1", "expires_in": 3600})
    member = oauth_client(redis_client)
    member.get_by_keys("StockItem", "MUG")

    ttl = redis_client.pttl(seat_key(member)) / 1000
    assert 30 * DAY - 60 < ttl <= 30 * DAY  # Acumatica's default chain: 30 days


def test_an_oauth_credential_follows_the_lifetimes_the_token_endpoint_states(mock, redis_client):
    mock.add(
        "POST",
        TOKEN,
        json={
            "access_token": "a1",
            "refresh_token": "r1",
            "expires_in": 3600,
            "refresh_token_expires_in": 7200,
        },
    )
    member = oauth_client(redis_client)
    member.get_by_keys("StockItem", "MUG")

    assert 7200 - 60 < redis_client.pttl(seat_key(member)) / 1000 <= 7200


def test_an_access_token_without_refresh_token_lives_its_expires_in(mock, redis_client):
    mock.add("POST", TOKEN, json={"access_token": "a1", "expires_in": 900})
    member = oauth_client(redis_client, oauth_scope="api")
    member.get_by_keys("StockItem", "MUG")

    assert 900 - 60 < redis_client.pttl(seat_key(member)) / 1000 <= 900


def test_a_refresh_chain_past_its_end_is_not_presented(mock, redis_client):
    answer = {"access_token": "a1", "refresh_token": "r1", "expires_in": 3600}
    mock.add("POST", TOKEN, json={**answer, "refresh_token_expires_in": 1})
    mock.add("POST", TOKEN, json={**answer, "access_token": "a2", "refresh_token": "r2"})
    pool = oauth_client(redis_client).sessions
    lease = pool.acquire()
    time.sleep(1.1)

    pool.renew(lease)  # as after a 401

    assert grants(mock) == ["password", "password"]  # never the ended chain's refresh token
