"""The session pool's keys expire with the Acumatica sessions they hold (against the sandbox).

The sandbox closes a cookie session left idle for its licence's ``idle_timeout_seconds``, as an
instance does; the pool is told the same timeout. Every answer the client gets is recorded at
the wire, so a dead session sent again would show as a 401.
"""

from __future__ import annotations

import json
import time
from urllib.parse import urlsplit

import pytest
import requests

from sync_workers.connectors.acumatica.client import AcumaticaClient
from sync_workers.connectors.config import AcumaticaConfig
from tests.connectors.conftest import PREFIX

CREDENTIALS = {"username": "admin", "password": "sandbox", "tenant": "Company"}
IDLE = 1.0


class Wire(requests.Session):
    """A requests session that notes each answer: (status, method, path, Cookie sent)."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[int, str, str, str]] = []
        self.hooks["response"].append(self._note)

    def _note(self, response: requests.Response, *_: object, **__: object) -> None:
        request = response.request
        path = urlsplit(request.url).path
        cookie = request.headers.get("Cookie", "")
        self.seen.append((response.status_code, request.method or "", path, cookie))

    def reads(self) -> list[tuple[int, str]]:
        """(status, Cookie) of every request but sign-in and sign-out."""
        return [
            (status, cookie)
            for status, _, path, cookie in self.seen
            if "/auth/" not in path and "/connect/" not in path
        ]


@pytest.fixture
def make_client(acumatica_sandbox, redis_client):
    made: list[AcumaticaClient] = []

    def build(**settings) -> tuple[AcumaticaClient, Wire]:
        wire = Wire()
        config = AcumaticaConfig(base_url=acumatica_sandbox.url, **{**CREDENTIALS, **settings})
        member = AcumaticaClient(
            config, redis_client, session=wire, register_atexit=False, prefix=PREFIX
        )
        made.append(member)
        return member, wire

    yield build
    for member in made:
        member.close()


def control(server, path: str, body: dict) -> None:
    requests.post(f"{server.url}/_sandbox/{path}", json=body, timeout=5).raise_for_status()


def stats(server) -> dict:
    return requests.get(f"{server.url}/_sandbox/stats", timeout=5).json()


def read(member: AcumaticaClient) -> None:
    member.get_list("StockItem", select=["InventoryID"], top=1)


def test_a_cookie_session_past_its_idle_timeout_is_not_sent_again(
    acumatica_sandbox, make_client, redis_client
):
    control(acumatica_sandbox, "licence", {"idle_timeout_seconds": IDLE})
    member, wire = make_client(session_idle_seconds=IDLE)
    read(member)
    key = member.sessions._seat_key(0)
    assert 0 < redis_client.pttl(key) <= IDLE * 1.1 * 1000

    time.sleep(IDLE * 1.1 + 0.2)  # the sandbox has closed the session; its key is gone
    assert not redis_client.exists(key)
    read(member)

    (first, old_cookie), (second, new_cookie) = wire.reads()
    assert (first, second) == (200, 200)  # no 401: the dead session was never presented
    assert new_cookie != old_cookie
    assert stats(acumatica_sandbox)["logins"] == 2


def test_a_cookie_session_in_use_outlives_the_idle_timeout(
    acumatica_sandbox, make_client, redis_client
):
    control(acumatica_sandbox, "licence", {"idle_timeout_seconds": IDLE})
    member, wire = make_client(session_idle_seconds=IDLE)
    deadline = time.monotonic() + IDLE * 3
    while time.monotonic() < deadline:
        read(member)
        time.sleep(IDLE / 4)

    assert {status for status, _ in wire.reads()} == {200}
    assert len({cookie for _, cookie in wire.reads()}) == 1
    assert stats(acumatica_sandbox)["logins"] == 1
    assert 0 < redis_client.pttl(member.sessions._seat_key(0)) <= IDLE * 1.1 * 1000


def test_a_process_back_from_idle_reuses_the_session_the_fleet_kept_open(
    acumatica_sandbox, make_client
):
    control(acumatica_sandbox, "licence", {"idle_timeout_seconds": IDLE})
    busy, _ = make_client(session_idle_seconds=IDLE)
    idle, idle_wire = make_client(session_idle_seconds=IDLE)
    read(idle)
    deadline = time.monotonic() + IDLE * 2
    while time.monotonic() < deadline:
        read(busy)
        time.sleep(IDLE / 4)

    read(idle)  # its own last use is past the idle timeout, the session's is not

    assert [status for status, _ in idle_wire.reads()] == [200, 200]
    assert len({cookie for _, cookie in idle_wire.reads()}) == 1
    assert stats(acumatica_sandbox)["logins"] == 1


def test_an_oauth_refresh_keeps_the_end_of_the_chain(acumatica_sandbox, make_client, redis_client):
    # Tokens shorter-lived than the pool's refresh margin are refreshed at every use.
    control(acumatica_sandbox, "behaviour", {"token_lifetime_seconds": 30})
    member, wire = make_client(auth_mode="oauth", client_id="sync@Company", client_secret="sandbox")
    key = member.sessions._seat_key(0)
    read(member)
    first = json.loads(redis_client.hget(key, "credential"))
    read(member)
    second = json.loads(redis_client.hget(key, "credential"))

    assert second["refresh_token"] != first["refresh_token"]  # refreshed, not signed in again
    assert second["refresh_expires_at"] == first["refresh_expires_at"]
    thirty_days = 30 * 24 * 3600
    assert thirty_days - 60 < redis_client.pttl(key) / 1000 <= thirty_days
    assert {status for status, _ in wire.reads()} == {200}
    assert stats(acumatica_sandbox)["logins"] == 1


def test_an_access_token_without_refresh_token_is_not_kept_past_its_expiry(
    acumatica_sandbox, make_client, redis_client
):
    control(acumatica_sandbox, "behaviour", {"token_lifetime_seconds": 1})
    member, wire = make_client(
        auth_mode="oauth", client_id="sync@Company", client_secret="sandbox", oauth_scope="api"
    )
    read(member)
    key = member.sessions._seat_key(0)

    assert 0 < redis_client.pttl(key) <= 1000
    time.sleep(1.2)
    assert not redis_client.exists(key)
    assert {status for status, _ in wire.reads()} == {200}
