"""Sign-in: cookies, wrong passwords, the seat limit, idle expiry and OAuth 2.0."""

from __future__ import annotations

import base64
import time

import requests

from .client import BASE, Api

TOKEN_FORM = {
    "grant_type": "password",
    "client_id": "8E0761D9-F4EC-2D4B-A60F-BCE2708C6FDD@Company",
    "client_secret": "sandbox",
    "username": "admin",
    "password": "sandbox",
    "scope": "api offline_access",
}


def test_login_is_204_with_session_cookies(anon: Api) -> None:
    response = anon.login()
    assert response.content == b""
    assert {".ASPXAUTH", "ASP.NET_SessionId", "CompanyID", "UserBranch", "Locale"} <= set(
        anon.http.cookies.keys()
    )
    assert "HttpOnly" in response.headers["Set-Cookie"]
    assert "requestid" in anon.http.cookies


def test_bad_password_is_500_invalid_credentials(anon: Api) -> None:
    response = anon.http.post(
        f"{anon.url}/entity/auth/login", json={"name": "admin", "password": "nope"}
    )
    assert response.status_code == 500
    body = response.json()
    assert body["message"] == "An error has occurred."
    assert body["exceptionMessage"] == "Error: Invalid credentials. Please try again."
    assert body["exceptionType"] == "PX.Data.PXException"


def test_wrong_tenant_is_refused_and_company_alias_accepted(anon: Api) -> None:
    bad = anon.http.post(
        f"{anon.url}/entity/auth/login",
        json={"name": "admin", "password": "sandbox", "tenant": "Other"},
    )
    assert bad.status_code == 500
    ok = anon.http.post(
        f"{anon.url}/entity/auth/login",
        json={"name": "admin", "password": "sandbox", "company": "Company"},
    )
    assert ok.status_code == 204


def test_form_encoded_login_is_accepted(anon: Api) -> None:
    response = anon.http.post(
        f"{anon.url}/entity/auth/login", data={"name": "admin", "password": "sandbox"}
    )
    assert response.status_code == 204


def test_request_without_session_is_401_not_logged_in(anon: Api) -> None:
    response = anon.get("SalesOrder")
    assert response.status_code == 401
    assert response.json() == {"message": "You are not logged in."}


def test_logout_is_204_expires_cookie_and_ends_session(api: Api) -> None:
    assert api.get("StockItem", **{"$top": 1}).status_code == 200
    response = api.logout()
    assert response.status_code == 204
    assert "1999" in response.headers["Set-Cookie"]
    assert api.get("StockItem", **{"$top": 1}).status_code == 401


def test_third_login_hits_api_login_limit_and_logout_frees_the_seat(anon: Api) -> None:
    first, second, third = Api(anon.url), Api(anon.url), Api(anon.url)
    first.login()
    second.login()
    refused = third.http.post(
        f"{anon.url}/entity/auth/login", json={"name": "admin", "password": "sandbox"}
    )
    assert refused.status_code == 429
    assert "API Login Limit" in refused.text
    stats = anon.control("GET", "/stats")
    assert stats["sessions_in_use"] == 2 and stats["peak_sessions"] == 2
    assert stats["login_limit_errors"] == 1
    first.logout()
    third.login()
    assert anon.control("GET", "/stats")["logouts"] == 1


def test_login_limit_status_is_switchable(anon: Api) -> None:
    anon.control("POST", "/behaviour", {"login_limit_status": 500})
    anon.control("POST", "/licence", {"max_sessions": 1})
    Api(anon.url).login()
    refused = anon.http.post(
        f"{anon.url}/entity/auth/login", json={"name": "admin", "password": "sandbox"}
    )
    assert refused.status_code == 500
    assert refused.json()["exceptionMessage"] == "API Login Limit"


def test_idle_session_expires_and_frees_its_seat(anon: Api) -> None:
    anon.control("POST", "/licence", {"max_sessions": 1, "idle_timeout_seconds": 0.3})
    anon.login()
    assert anon.get("StockItem", **{"$top": 1}).status_code == 200
    time.sleep(0.45)
    assert anon.get("StockItem", **{"$top": 1}).status_code == 401
    Api(anon.url).login()
    assert anon.control("GET", "/stats")["expired_sessions"] >= 1


def test_dropped_sessions_answer_401(api: Api) -> None:
    api.control("POST", "/sessions/drop")
    assert api.get("StockItem", **{"$top": 1}).status_code == 401


def test_oauth_password_grant_gives_bearer_accepted_on_rest_and_odata(anon: Api) -> None:
    token = requests.post(f"{anon.url}/identity/connect/token", data=TOKEN_FORM, timeout=10).json()
    assert (
        token["token_type"] == "Bearer" and token["expires_in"] == 3600 and token["refresh_token"]
    )
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    assert (
        requests.get(f"{anon.url}{BASE}/StockItem?$top=1", headers=headers, timeout=10).status_code
        == 200
    )
    odata = requests.get(
        f"{anon.url}/t/Company/api/odata/gi/StockItems?$top=1", headers=headers, timeout=10
    )
    assert odata.status_code == 200 and len(odata.json()["value"]) == 1
    assert anon.control("GET", "/stats")["sessions_in_use"] == 1


def test_refresh_grant_rotates_the_refresh_token(anon: Api) -> None:
    first = requests.post(f"{anon.url}/identity/connect/token", data=TOKEN_FORM, timeout=10).json()
    form = {**TOKEN_FORM, "grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
    second = requests.post(f"{anon.url}/identity/connect/token", data=form, timeout=10).json()
    assert second["refresh_token"] != first["refresh_token"]
    reused = requests.post(f"{anon.url}/identity/connect/token", data=form, timeout=10)
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"
    headers = {"Authorization": f"Bearer {second['access_token']}"}
    assert (
        requests.get(f"{anon.url}{BASE}/StockItem?$top=1", headers=headers, timeout=10).status_code
        == 200
    )


def test_oauth_bad_password_is_invalid_grant(anon: Api) -> None:
    response = requests.post(
        f"{anon.url}/identity/connect/token", data={**TOKEN_FORM, "password": "x"}, timeout=10
    )
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


def test_oauth_grants_use_seats_and_bearer_logout_frees_one(anon: Api) -> None:
    anon.control("POST", "/licence", {"max_sessions": 1})
    token = requests.post(f"{anon.url}/identity/connect/token", data=TOKEN_FORM, timeout=10).json()
    refused = requests.post(f"{anon.url}/identity/connect/token", data=TOKEN_FORM, timeout=10)
    assert refused.status_code == 400 and "API Login Limit" in refused.text
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    assert (
        requests.post(f"{anon.url}/entity/auth/logout", headers=headers, timeout=10).status_code
        == 204
    )
    assert (
        requests.post(f"{anon.url}/identity/connect/token", data=TOKEN_FORM, timeout=10).status_code
        == 200
    )


def test_openid_configuration_names_the_token_endpoint(anon: Api) -> None:
    config = requests.get(
        f"{anon.url}/identity/.well-known/openid-configuration", timeout=10
    ).json()
    assert config["token_endpoint"].endswith("/identity/connect/token")


def test_odata_accepts_basic_auth_without_a_seat(anon: Api) -> None:
    basic = base64.b64encode(b"admin:sandbox").decode()
    ok = requests.get(
        f"{anon.url}/t/Company/api/odata/gi/Customers",
        headers={"Authorization": f"Basic {basic}"},
        timeout=10,
    )
    assert ok.status_code == 200 and ok.json()["value"]
    assert anon.control("GET", "/stats")["sessions_in_use"] == 0
    wrong = base64.b64encode(b"admin:bad").decode()
    refused = requests.get(
        f"{anon.url}/t/Company/api/odata/gi/Customers",
        headers={"Authorization": f"Basic {wrong}"},
        timeout=10,
    )
    assert refused.status_code == 401


def test_expired_access_token_is_401_and_frees_the_seat_without_refresh(anon: Api) -> None:
    anon.control("POST", "/behaviour", {"token_lifetime_seconds": 0.3})
    token = requests.post(
        f"{anon.url}/identity/connect/token", data={**TOKEN_FORM, "scope": "api"}, timeout=10
    ).json()
    assert "refresh_token" not in token
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    assert (
        requests.get(f"{anon.url}{BASE}/StockItem?$top=1", headers=headers, timeout=10).status_code
        == 200
    )
    time.sleep(0.4)
    assert (
        requests.get(f"{anon.url}{BASE}/StockItem?$top=1", headers=headers, timeout=10).status_code
        == 401
    )
    assert anon.control("GET", "/stats")["sessions_in_use"] == 0
