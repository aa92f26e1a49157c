"""The Acumatica client against recorded-shape answers (``responses`` at the HTTP edge)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
import requests
import responses

from sync_workers.connectors.acumatica.client import AcumaticaClient
from sync_workers.connectors.acumatica.filters import F
from sync_workers.connectors.config import AcumaticaConfig
from sync_workers.connectors.errors import (
    AuthError,
    LoginLimitReached,
    NotFound,
    SessionExpired,
    ValidationFailed,
)
from sync_workers.errors import TransientError
from tests.connectors.conftest import PREFIX

BASE = "http://erp.test"
API = f"{BASE}/entity/Default/24.200.001"
LOGIN = f"{BASE}/entity/auth/login"
LOGOUT = f"{BASE}/entity/auth/logout"
NOT_LOGGED_IN = {"message": "You are not logged in."}


def config(**overrides) -> AcumaticaConfig:
    values = {"base_url": BASE, "username": "admin", "password": "s3cret-pass", "tenant": "Company"}
    values.update(overrides)
    return AcumaticaConfig(**values)


def add_login(mock: responses.RequestsMock, session_id: str = "abc") -> None:
    mock.add(
        "POST",
        LOGIN,
        status=204,
        adding_headers=[
            ("Set-Cookie", f".ASPXAUTH=AUTH{session_id}; path=/; HttpOnly"),
            ("Set-Cookie", f"ASP.NET_SessionId={session_id}; path=/; HttpOnly"),
        ],
    )


@pytest.fixture
def mock():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


@pytest.fixture
def client(redis_client):
    acu = AcumaticaClient(config(), redis_client, register_atexit=False, prefix=PREFIX)
    yield acu
    acu.transport.close()


def query(call) -> dict[str, list[str]]:
    return parse_qs(urlsplit(call.request.url).query)


def test_login_sends_credentials_once_and_cookies_on_every_call(mock, client):
    add_login(mock)
    mock.add("GET", f"{API}/StockItem/MUG", json={"InventoryID": {"value": "MUG"}})
    assert client.get_by_keys("StockItem", "MUG") == {"InventoryID": "MUG"}
    assert client.get_by_keys("StockItem", "MUG") == {"InventoryID": "MUG"}
    logins = [c for c in mock.calls if c.request.url == LOGIN]
    assert len(logins) == 1
    assert json.loads(logins[0].request.body) == {
        "name": "admin",
        "password": "s3cret-pass",
        "tenant": "Company",
    }
    reads = [c for c in mock.calls if "StockItem" in c.request.url]
    assert all("ASP.NET_SessionId=abc" in c.request.headers["Cookie"] for c in reads)


def test_expired_session_relogs_in_once_and_retries(mock, client):
    # Answers registered for one URL are served in order.
    add_login(mock, "first")
    add_login(mock, "second")
    url = f"{API}/StockItem/MUG"
    mock.add("GET", url, json={"InventoryID": {"value": "MUG"}})
    mock.add("GET", url, status=401, json=NOT_LOGGED_IN)
    mock.add("GET", url, json={"InventoryID": {"value": "MUG"}})
    mock.add("POST", LOGOUT, status=204)
    client.get_by_keys("StockItem", "MUG")
    assert client.get_by_keys("StockItem", "MUG") == {"InventoryID": "MUG"}
    logins = [c for c in mock.calls if c.request.url == LOGIN]
    assert len(logins) == 2
    logouts = [c for c in mock.calls if c.request.url == LOGOUT]
    assert len(logouts) == 1 and "first" in logouts[0].request.headers["Cookie"]
    cookies = [c.request.headers["Cookie"] for c in mock.calls if c.request.url == url]
    assert ["first" in c for c in cookies] == [True, True, False]
    assert "second" in cookies[-1]


def test_second_401_in_a_row_is_raised(mock, client):
    add_login(mock)
    mock.add("GET", f"{API}/StockItem/MUG", status=401, json=NOT_LOGGED_IN)
    with pytest.raises(SessionExpired):
        client.get_by_keys("StockItem", "MUG")
    assert len([c for c in mock.calls if c.request.url == LOGIN]) == 2


def test_wrong_password_is_permanent_and_never_shows_the_password(mock, client):
    mock.add(
        "POST",
        LOGIN,
        status=500,
        json={
            "message": "An error has occurred.",
            "exceptionMessage": "Error: Invalid credentials. Please try again.",
            "exceptionType": "PX.Data.PXException",
        },
    )
    with pytest.raises(AuthError) as caught:
        client.get_by_keys("StockItem", "MUG")
    assert "s3cret-pass" not in str(caught.value) and "s3cret-pass" not in repr(
        caught.value.details
    )
    assert "s3cret-pass" not in repr(client.config)


def test_login_limit_backs_off_for_the_whole_fleet(mock, redis_client):
    mock.add("POST", LOGIN, status=429, json={"message": "API Login Limit"})
    first = AcumaticaClient(
        config(login_backoff_seconds=30), redis_client, register_atexit=False, prefix=PREFIX
    )
    other = AcumaticaClient(
        config(login_backoff_seconds=30), redis_client, register_atexit=False, prefix=PREFIX
    )
    with pytest.raises(LoginLimitReached) as caught:
        first.get_by_keys("StockItem", "MUG")
    assert caught.value.retry_after == 30
    with pytest.raises(LoginLimitReached) as again:
        other.get_by_keys("StockItem", "MUG")
    assert 0 < again.value.retry_after <= 30
    assert len([c for c in mock.calls if c.request.url == LOGIN]) == 1


def test_put_wraps_values_and_unwraps_the_answer(mock, client):
    add_login(mock)
    mock.add(
        "PUT",
        f"{API}/SalesOrder",
        json={
            "id": "g1",
            "OrderNbr": {"value": "SO0001"},
            "CustomerOrder": {"value": "O'NEIL/42"},
            "Details": [{"id": "d1", "OrderQty": {"value": 2.0}}],
            "Description": {},
        },
    )
    saved = client.put(
        "SalesOrder",
        {"OrderType": "SO", "CustomerOrder": "O'NEIL/42", "Details": [{"InventoryID": "MUG"}]},
        expand=["Details"],
        mode="insert",
    )
    assert saved == {
        "id": "g1",
        "OrderNbr": "SO0001",
        "CustomerOrder": "O'NEIL/42",
        "Details": [{"id": "d1", "OrderQty": 2.0}],
        "Description": None,
    }
    put = mock.calls[-1]
    assert json.loads(put.request.body) == {
        "OrderType": {"value": "SO"},
        "CustomerOrder": {"value": "O'NEIL/42"},
        "Details": [{"InventoryID": {"value": "MUG"}}],
    }
    assert put.request.headers["If-None-Match"] == "*"
    assert query(put) == {"$expand": ["Details"]}


def test_put_422_carries_field_errors(mock, client):
    add_login(mock)
    mock.add(
        "PUT",
        f"{API}/SalesOrder",
        status=422,
        json={
            "error": "Inserting 'Sales Order' record raised at least one error.",
            "CustomerID": {"value": "NOPE", "error": "'Customer' cannot be found in the system."},
        },
    )
    with pytest.raises(ValidationFailed) as caught:
        client.put("SalesOrder", {"CustomerID": "NOPE"})
    assert caught.value.field_errors["CustomerID"] == "'Customer' cannot be found in the system."


def test_timed_out_put_may_have_been_applied(mock, client):
    add_login(mock)
    mock.add("PUT", f"{API}/SalesOrder", body=requests.ReadTimeout("read timed out"))
    with pytest.raises(TransientError) as caught:
        client.put("SalesOrder", {"CustomerOrder": "X1"})
    assert caught.value.details["maybe_applied"] is True


def test_filtered_list_is_escaped_encoded_and_paged(mock, client):
    add_login(mock)
    rows = [{"InventoryID": {"value": f"I{i}"}} for i in range(5)]
    mock.add("GET", f"{API}/StockItem", json=rows[:2])
    mock.add("GET", f"{API}/StockItem", json=rows[2:4])
    mock.add("GET", f"{API}/StockItem", json=rows[4:])
    since = datetime(2026, 1, 1, tzinfo=UTC)
    flt = (F("LastModified") >= since) & (F("Description") == "it's 1/2 + more")
    found = list(client.iter_list("StockItem", filter=flt, select=["InventoryID"], page_size=2))
    assert [r["InventoryID"] for r in found] == ["I0", "I1", "I2", "I3", "I4"]
    lists = [c for c in mock.calls if c.request.url.startswith(f"{API}/StockItem")]
    assert [query(c).get("$skip", ["0"]) for c in lists] == [
        ["0"],
        ["2"],
        ["4"],
    ]
    raw = urlsplit(lists[0].request.url).query
    assert "+" not in raw  # '+' would read as a space; the offset and text are %2B / %20
    assert query(lists[0])["$filter"] == [
        "(LastModified ge datetimeoffset'2026-01-01T00:00:00+00:00') and "
        "(Description eq 'it''s 1/2 + more')"
    ]
    assert query(lists[0])["$top"] == ["2"]


def test_string_filters_are_refused(client):
    with pytest.raises(TypeError):
        client.get_list("StockItem", filter="InventoryID eq 'x'")  # type: ignore[arg-type]


def test_missing_record_is_not_found_or_none(mock, client):
    add_login(mock)
    mock.add(
        "GET",
        f"{API}/SalesOrder/SO/000999",
        status=500,
        json={
            "message": "An error has occurred.",
            "exceptionMessage": "No entity satisfies the condition.",
            "exceptionType": "PX.Api.ContractBased.NoEntitySatisfiesTheConditionException",
        },
    )
    with pytest.raises(NotFound):
        client.get_by_keys("SalesOrder", "SO", "000999")
    assert client.get_by_keys("SalesOrder", "SO", "000999", missing_ok=True) is None


def test_key_with_a_slash_is_read_by_filter(mock, client):
    add_login(mock)
    mock.add("GET", f"{API}/StockItem", json=[{"InventoryID": {"value": "O'NEIL/42"}}])
    assert client.get_by_keys("StockItem", "O'NEIL/42") == {"InventoryID": "O'NEIL/42"}
    assert query(mock.calls[-1])["$filter"] == ["InventoryID eq 'O''NEIL/42'"]


def test_action_202_polls_location_until_done(mock, client, monkeypatch):
    add_login(mock)
    status_url = f"{API}/Payment/ReleasePayment/status/5f1c"
    mock.add(
        "POST",
        f"{API}/Payment/ReleasePayment",
        status=202,
        headers={"Location": "/entity/Default/24.200.001/Payment/ReleasePayment/status/5f1c"},
    )
    mock.add("GET", status_url, status=202)
    mock.add("GET", status_url, status=202)
    mock.add("GET", status_url, status=204)
    monkeypatch.setattr("time.sleep", lambda _s: None)
    assert (
        client.invoke_action(
            "Payment", "ReleasePayment", {"Type": "Prepayment", "ReferenceNbr": "000001"}
        )
        is None
    )
    polls = [c for c in mock.calls if c.request.url == status_url]
    assert len(polls) == 3
    body = json.loads(mock.calls[1].request.body)
    assert body == {
        "entity": {"Type": {"value": "Prepayment"}, "ReferenceNbr": {"value": "000001"}},
        "parameters": {},
    }


def test_close_signs_out_only_the_last_user(mock, redis_client):
    add_login(mock)
    mock.add("GET", f"{API}/StockItem/MUG", json={"InventoryID": {"value": "MUG"}})
    mock.add("POST", LOGOUT, status=204)
    one = AcumaticaClient(config(), redis_client, register_atexit=False, prefix=PREFIX)
    two = AcumaticaClient(config(), redis_client, register_atexit=False, prefix=PREFIX)
    one.get_by_keys("StockItem", "MUG")
    two.get_by_keys("StockItem", "MUG")
    assert len([c for c in mock.calls if c.request.url == LOGIN]) == 1
    one.close()
    assert not [c for c in mock.calls if c.request.url == LOGOUT]
    two.close()
    logouts = [c for c in mock.calls if c.request.url == LOGOUT]
    assert len(logouts) == 1 and "ASP.NET_SessionId=abc" in logouts[0].request.headers["Cookie"]


def test_oauth_token_is_shared_and_refreshed_on_401(mock, redis_client):
    token_url = f"{BASE}/identity/connect/token"
    mock.add(
        "POST",
        token_url,
        json={
            "access_token": "tok-1",
            "refresh_token": "ref-1",
            "expires_in": 3600,
            "token_type": "Bearer",
        },
    )
    mock.add(
        "POST",
        token_url,
        json={
            "access_token": "tok-2",
            "refresh_token": "ref-2",
            "expires_in": 3600,
            "token_type": "Bearer",
        },
    )
    url = f"{API}/Customer/C1"
    mock.add("GET", url, json={"CustomerID": {"value": "C1"}})
    mock.add("GET", url, status=401, json=NOT_LOGGED_IN)
    mock.add("GET", url, json={"CustomerID": {"value": "C1"}})
    settings = config(auth_mode="oauth", client_id="id@Company", client_secret="cs-secret")
    first = AcumaticaClient(settings, redis_client, register_atexit=False, prefix=PREFIX)
    other = AcumaticaClient(settings, redis_client, register_atexit=False, prefix=PREFIX)
    first.get_by_keys("Customer", "C1")
    other.get_by_keys("Customer", "C1")
    tokens = [c for c in mock.calls if c.request.url == token_url]
    assert len(tokens) == 2
    assert parse_qs(tokens[0].request.body)["grant_type"] == ["password"]
    refresh = parse_qs(tokens[1].request.body)
    assert refresh["grant_type"] == ["refresh_token"] and refresh["refresh_token"] == ["ref-1"]
    reads = [c.request.headers["Authorization"] for c in mock.calls if c.request.url == url]
    assert reads == ["Bearer tok-1", "Bearer tok-1", "Bearer tok-2"]
    assert "cs-secret" not in repr(settings)


def test_odata_reads_flat_rows_with_v4_filter(mock, client):
    gi = f"{BASE}/t/Company/api/odata/gi/ItemAvailability"
    mock.add(
        "GET",
        gi,
        json={"@odata.context": "x", "value": [{"InventoryID": "A"}, {"InventoryID": "B"}]},
    )
    mock.add("GET", gi, json={"value": [{"InventoryID": "C"}]})
    since = datetime(2026, 1, 1, tzinfo=UTC)
    rows = list(
        client.odata.gi(
            "ItemAvailability",
            filter=F("LastModified") > since,
            page_size=2,
            orderby=["InventoryID"],
        )
    )
    assert [r["InventoryID"] for r in rows] == ["A", "B", "C"]
    first = query(mock.calls[0])
    assert first["$filter"] == ["LastModified gt 2026-01-01T00:00:00Z"]
    assert unquote(first["$orderby"][0]) == "InventoryID"
    # cookie mode: OData signs in with Basic auth, never with a session of the pool
    assert mock.calls[0].request.headers["Authorization"].startswith("Basic ")
    assert "Cookie" not in mock.calls[0].request.headers and len(mock.calls) == 2


def test_a_truncated_list_is_transient(mock, client):
    add_login(mock)
    mock.add("GET", f"{API}/StockItem", body='[{"InventoryID": {"val', status=200)
    with pytest.raises(TransientError):
        client.get_list("StockItem")
