"""No ``/_sandbox/`` answer of either sandbox holds a secret: not the secrets clients set there
(X-Cart webhook secrets, Acumatica push header values), nor session cookies, tokens or keys."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator

import pytest
import requests
from flask import Flask

from sandboxes.acumatica.app import create_app as create_acumatica
from sandboxes.acumatica.app import sandbox_of
from sandboxes.common.server import RunningServer, serve_in_thread
from sandboxes.xcart import create_app as create_xcart
from sandboxes.xcart.context import EXTENSION_KEY
from tests.sandboxes.xcart.conftest import checkout_body

#: Nothing listens on the discard port: every delivery fails and stays in the logs.
DEAD_URL = "http://127.0.0.1:9/hook"
ENTITY = "/entity/Default/24.200.001"


def _control_gets(app: Flask) -> list[str]:
    """Every GET route of the control surface (new ones included without editing this test)."""
    rules = [
        rule
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/_sandbox") and "GET" in (rule.methods or ())
    ]
    assert not [r.rule for r in rules if r.arguments], "teach this test the arguments of a GET"
    return sorted(rule.rule for rule in rules)


def _wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _assert_none_shown(server: RunningServer, routes: list[str], hidden: list[str]) -> None:
    for route in routes:
        answer = requests.get(f"{server.url}{route}", timeout=10)
        assert answer.status_code == 200, (route, answer.text)
        for value in hidden:
            assert value not in answer.text, f"GET {route} shows a secret"


@pytest.fixture
def xcart(tmp_path) -> Iterator[tuple[Flask, RunningServer]]:
    app = create_xcart(tmp_path, seed=True)
    server = serve_in_thread(app)
    yield app, server
    server.stop()


@pytest.fixture
def acumatica(tmp_path) -> Iterator[tuple[Flask, RunningServer]]:
    app = create_acumatica(tmp_path, seed=True)
    server = serve_in_thread(app)
    yield app, server
    server.stop()
    sandbox_of(app).close()


def test_the_xcart_control_surface_never_answers_with_a_secret(xcart) -> None:
    app, server = xcart
    control = f"{server.url}/_sandbox"
    webhook_secret = "webhook-secret-" + secrets.token_hex(16)
    requests.post(
        f"{control}/config", json={"webhooks_enabled": True, "webhook_max_attempts": 1}, timeout=10
    ).raise_for_status()

    subscribed = requests.post(
        f"{control}/webhooks",
        json={"url": DEAD_URL, "secret": webhook_secret, "events": ["*"]},
        timeout=10,
    )
    assert subscribed.status_code == 201
    assert subscribed.json()["secret"] == "***"
    assert webhook_secret not in subscribed.text
    requests.post(f"{control}/checkout", json=checkout_body(), timeout=10).raise_for_status()
    jwt = requests.post(
        f"{server.url}/api-login/check",
        json={"username": "admin@example.com", "password": "sandbox-admin"},
        timeout=10,
    ).json()["token"]
    sandbox = app.extensions[EXTENSION_KEY]
    jwt_key = str(sandbox.store.get_meta("jwt_secret"))
    _wait_for(
        lambda: any(d["attempts"] for d in sandbox.webhooks.deliveries()), "a delivery attempt"
    )
    # The secret is kept (deliveries are signed with it), only never shown.
    assert [s["secret"] for s in sandbox.webhooks.subscriptions()] == [webhook_secret]

    routes = _control_gets(app)

    assert {"/_sandbox/webhooks", "/_sandbox/webhooks/deliveries", "/_sandbox/config"} <= set(
        routes
    )
    _assert_none_shown(server, routes, [webhook_secret, jwt, jwt_key])
    listed = requests.get(f"{control}/webhooks", timeout=10).json()["subscriptions"]
    assert [s["secret"] for s in listed] == ["***"]


def test_the_acumatica_control_surface_never_answers_with_a_secret(acumatica) -> None:
    app, server = acumatica
    control = f"{server.url}/_sandbox"
    header_value = "push-secret-" + secrets.token_hex(16)
    requests.post(
        f"{control}/push",
        json={"settings": {"max_attempts": 1, "retry_delay_seconds": 0.01}},
        timeout=10,
    ).raise_for_status()

    subscribed = requests.post(
        f"{control}/push",
        json={
            "name": "engine",
            "url": DEAD_URL,
            "queries": ["Customers"],
            "header_name": "X-Sync-Secret",
            "header_value": header_value,
        },
        timeout=10,
    )
    assert subscribed.status_code == 200
    assert header_value not in subscribed.text
    http = requests.Session()
    login = http.post(
        f"{server.url}/entity/auth/login",
        json={"name": "admin", "password": "sandbox", "company": "Company"},
        timeout=10,
    )
    assert login.status_code == 204
    cookie = http.cookies[".ASPXAUTH"]
    http.put(
        f"{server.url}{ENTITY}/Customer",
        json={"CustomerID": {"value": "XCGUEST"}, "Terms": {"value": "COD"}},
        timeout=10,
    ).raise_for_status()
    tokens = requests.post(
        f"{server.url}/identity/connect/token",
        data={
            "grant_type": "password",
            "client_id": "engine@Company",
            "client_secret": "sandbox",
            "username": "admin",
            "password": "sandbox",
            "scope": "api offline_access",
        },
        timeout=10,
    ).json()
    _wait_for(
        lambda: bool(requests.get(f"{control}/push/log", timeout=10).json()["failed"]),
        "a failed push",
    )
    # The header value is kept (pushes carry it), only never shown.
    assert sandbox_of(app).push.subscriptions["engine"]["header_value"] == header_value

    routes = _control_gets(app)

    assert {"/_sandbox/push", "/_sandbox/push/log", "/_sandbox/sessions"} <= set(routes)
    _assert_none_shown(
        server, routes, [header_value, cookie, tokens["access_token"], tokens["refresh_token"]]
    )
    http.post(f"{server.url}/entity/auth/logout", timeout=10)
